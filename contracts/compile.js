#!/usr/bin/env node
/*
 * Compile the platform's contracts (contracts/FlexAnchor.sol, contracts/FlexToken.sol) with solc-js
 * (standard JSON), one at a time, into settlement/chain/artifacts/<Name>.json.
 *
 *   node contracts/compile.js          write the artifact
 *   node contracts/compile.js --check  exit 1 if a committed artifact differs from a fresh compile
 *
 * Settings are fixed here and recorded in the artifact: evmVersion "prague" (solc 0.8.37 targets
 * osaka by default; py-evm supports up to prague), optimizer enabled with 200 runs.
 * Imports starting with "@openzeppelin/" resolve from node_modules. The output is deterministic
 * (same input => byte-identical file), so the check can compare text.
 */
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const ROOT = path.resolve(__dirname, '..');
const CONTRACTS = ['FlexAnchor', 'FlexToken'];
const artifactFile = (name) => path.join(ROOT, 'settlement', 'chain', 'artifacts', `${name}.json`);

const SETTINGS = {
  evmVersion: 'prague',
  optimizer: { enabled: true, runs: 200 },
  outputSelection: {
    '*': {
      '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.methodIdentifiers'],
    },
  },
};

const sha256 = (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

/** Every file handed to the compiler, keyed by its source unit name, for the input hash (per contract). */
let seen = new Map();

function readSource(unitName) {
  let file;
  if (unitName.startsWith('@openzeppelin/')) {
    file = path.join(ROOT, 'node_modules', unitName);
  } else {
    file = path.join(ROOT, unitName);
  }
  const relative = path.relative(ROOT, path.resolve(file));
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new Error(`import outside the project: ${unitName}`);
  }
  const contents = fs.readFileSync(file, 'utf8');
  seen.set(unitName, contents);
  return contents;
}

function findImports(unitName) {
  try {
    return { contents: readSource(unitName) };
  } catch (err) {
    return { error: `cannot resolve ${unitName}: ${err.message}` };
  }
}

function packageVersion(name) {
  const file = path.join(ROOT, 'node_modules', name, 'package.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).version;
}

function compile(CONTRACT) {
  const SOURCE = `contracts/${CONTRACT}.sol`;
  seen = new Map();
  const input = {
    language: 'Solidity',
    sources: { [SOURCE]: { content: readSource(SOURCE) } },
    settings: SETTINGS,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const problems = output.errors || [];
  for (const p of problems) {
    process.stderr.write(`${p.formattedMessage || p.message}\n`);
  }
  if (problems.some((p) => p.severity === 'error')) {
    throw new Error('compilation failed');
  }
  const contract = output.contracts[SOURCE][CONTRACT];
  const names = [...seen.keys()].sort();
  const sources = {};
  for (const name of names) {
    sources[name] = sha256(seen.get(name));
  }
  // sha256 over "name\0sha256(content)\n" lines in sorted order: changes when any input changes.
  const sourcesSha256 = sha256(names.map((n) => `${n}\0${sources[n]}\n`).join(''));
  const artifact = {
    contractName: CONTRACT,
    sourceName: SOURCE,
    compiler: {
      name: 'solc-js',
      version: solc.version(),
      settings: {
        evmVersion: SETTINGS.evmVersion,
        optimizer: SETTINGS.optimizer,
      },
    },
    dependencies: {
      '@openzeppelin/contracts': packageVersion('@openzeppelin/contracts'),
    },
    sourcesSha256,
    sources,
    abi: contract.abi,
    methodIdentifiers: contract.evm.methodIdentifiers,
    bytecode: `0x${contract.evm.bytecode.object}`,
    deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
  };
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

function main(argv) {
  let code = 0;
  for (const name of CONTRACTS) {
    code = Math.max(code, one(name, argv));
  }
  return code;
}

function one(name, argv) {
  const ARTIFACT = artifactFile(name);
  const check = argv.includes('--check');
  const fresh = compile(name);
  if (check) {
    let committed = null;
    try {
      committed = fs.readFileSync(ARTIFACT, 'utf8');
    } catch (err) {
      process.stderr.write(`missing artifact ${path.relative(ROOT, ARTIFACT)}: ${err.message}\n`);
      return 1;
    }
    if (committed !== fresh) {
      process.stderr.write(
        `stale artifact ${path.relative(ROOT, ARTIFACT)}: run \`npm run compile\` and commit it\n`,
      );
      return 1;
    }
    process.stdout.write(`${path.relative(ROOT, ARTIFACT)} is up to date\n`);
    return 0;
  }
  fs.mkdirSync(path.dirname(ARTIFACT), { recursive: true });
  fs.writeFileSync(ARTIFACT, fresh);
  process.stdout.write(`wrote ${path.relative(ROOT, ARTIFACT)}\n`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 2;
}
