#!/usr/bin/env node
/*
 * Independent check of a claims tree dump with OpenZeppelin's own library:
 *   node tools/claims_tree_check.js < dump.json
 * loads it with StandardMerkleTree.load, validates it (every value hashes to its leaf, the tree is consistent),
 * and prints {"root": ..., "proofs": [[account, id, cumulative, proof], ...]} as JSON.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { StandardMerkleTree } = require(path.join(__dirname, '..', 'node_modules', '@openzeppelin', 'merkle-tree'));

const dump = JSON.parse(fs.readFileSync(0, 'utf8'));
const tree = StandardMerkleTree.load(dump);
tree.validate();
const proofs = [];
for (const [i, v] of tree.entries()) {
  proofs.push([v[0], v[1], v[2], tree.getProof(i)]);
}
process.stdout.write(JSON.stringify({ root: tree.root, proofs }));
