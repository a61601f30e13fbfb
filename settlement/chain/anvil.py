"""Start and stop a local anvil node (Foundry) for development, tests and benchmarks.

The binary comes from npm ``@foundry-rs/anvil`` in the project's ``node_modules``
(``node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil``, the project root being the parent of
the ``settlement`` package); ``ANVIL_BIN`` overrides it. The node listens on 127.0.0.1 only, uses
the ``prague`` hardfork by default (the contract is compiled for prague) and is stopped by PID.

Anvil's dev accounts come from the public mnemonic ``test test ... junk``; their keys are
well known and hold worthless test ether only: never use them on a real network.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

__all__ = ["ANVIL_DEV_ADDRESS", "ANVIL_DEV_KEY", "ANVIL_DEV_KEYS", "AnvilProcess", "anvil_binary", "free_port"]

# Public, well-known anvil/hardhat dev keys (mnemonic "test test test test test test test test test test test junk").
ANVIL_DEV_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)
ANVIL_DEV_KEY = ANVIL_DEV_KEYS[0]
ANVIL_DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_DEFAULT_BIN = PROJECT_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


def anvil_binary() -> Path:
    """Path of the anvil executable: ``$ANVIL_BIN`` or the one in ``node_modules``."""
    return Path(os.environ.get("ANVIL_BIN") or _DEFAULT_BIN)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _rpc(url: str, method: str, params: list | None = None, timeout: float = 2.0) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback http only
        return json.loads(response.read())["result"]


class AnvilProcess:
    """An anvil child process on ``127.0.0.1:port``; use as a context manager or start()/stop().

    ``state_file`` keeps the chain between runs (anvil ``--state``: loaded at start, written
    when the node stops); ``block_time`` switches from instant to interval mining (seconds).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        state_file: str | os.PathLike[str] | None = None,
        block_time: float | None = None,
        hardfork: str = "prague",
        chain_id: int | None = None,
        extra_args: tuple[str, ...] = (),
        binary: str | os.PathLike[str] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.host = host
        self.port = port
        self.state_file = Path(state_file) if state_file is not None else None
        self.block_time = block_time
        self.hardfork = hardfork
        self.chain_id = chain_id
        self.extra_args = tuple(extra_args)
        self.binary = Path(binary) if binary is not None else anvil_binary()
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("anvil is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _command(self, port: int) -> list[str]:
        cmd = [str(self.binary), "--host", self.host, "--port", str(port), "--hardfork", self.hardfork]
        if self.state_file is not None:
            cmd += ["--state", str(self.state_file)]
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.chain_id is not None:
            cmd += ["--chain-id", str(self.chain_id)]
        return cmd + list(self.extra_args)

    def start(self) -> AnvilProcess:
        """Start anvil and wait until it answers ``eth_chainId``. Retries another free port
        when no port was given and the chosen one was taken meanwhile."""
        if self.running:
            return self
        if not self.binary.is_file():
            raise FileNotFoundError(f"anvil binary not found at {self.binary} (run `npm ci` or set ANVIL_BIN)")
        fixed_port = self.port is not None
        for _attempt in range(1 if fixed_port else 3):
            port = self.port if fixed_port else free_port(self.host)
            if port is None:  # pragma: no cover - narrowing for type checkers
                raise RuntimeError("no port")
            self._log = tempfile.NamedTemporaryFile(prefix="anvil-", suffix=".log")
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                self._command(port), stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
            self.port = port
            if self._wait_ready():
                return self
            log = self._read_log()
            self._terminate()
            if not fixed_port:
                self.port = None
        raise RuntimeError(f"anvil did not start on {self.host}: {log[-2000:]}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                _rpc(self.url, "eth_chainId", timeout=1.0)
                return True
            except (OSError, urllib.error.URLError, ValueError, KeyError):
                time.sleep(0.05)
        return False

    def _read_log(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text(encoding="utf-8", errors="replace")

    def _terminate(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()  # SIGTERM: anvil writes --state before exiting
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """Stop the node (SIGTERM to its PID, SIGKILL after 10 s)."""
        self._terminate()

    def __enter__(self) -> AnvilProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<AnvilProcess {state} {self.host}:{self.port} pid={self.pid}>"
