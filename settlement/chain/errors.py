"""Decoding contract reverts into a name and arguments, whatever node produced them.

Backends report a revert differently:

* a JSON-RPC node (anvil, geth) returns the revert data; web3 raises ``ContractCustomError``
  (or ``ContractLogicError`` / ``ContractPanicError``) whose ``data`` is the ``0x`` hex of the
  4-byte selector and the ABI-encoded arguments; a bare ``Web3RPCError`` carries it in
  ``rpc_response["error"]["data"]``;
* the in-process eth-tester raises ``eth_tester.exceptions.TransactionFailed`` whose message
  is ``"execution reverted: b'...'"``: the revert bytes as a Python bytes literal (or the
  decoded text of an ``Error(string)``).

:func:`decode_revert` accepts either and decodes the data against the custom errors of the
FlexAnchor ABI (ours and OpenZeppelin's, e.g. ``AccessControlUnauthorizedAccount``) plus
Solidity's built-in ``Error(string)`` and ``Panic(uint256)``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from settlement.chain.artifact import ErrorAbi, load_artifact

__all__ = ["RevertInfo", "decode_revert", "decode_revert_data", "revert_data"]

_BUILTIN_ERRORS = (
    ErrorAbi(name="Error", types=("string",), arg_names=("message",)),
    ErrorAbi(name="Panic", types=("uint256",), arg_names=("code",)),
)
_REVERTED = re.compile(r"execution reverted:?\s*(.*)\Z", re.DOTALL)
_HEX = re.compile(r"0x[0-9a-fA-F]*\Z")


@dataclass(frozen=True)
class RevertInfo:
    """A decoded revert: error ``name`` (e.g. ``"PeriodAlreadyAnchored"``), decoded ``args``
    (addresses checksummed, ``bytes32`` as bytes) and the raw revert ``data``.

    Unknown selectors give ``name="0x<selector hex>"`` and ``args=(payload,)``.
    """

    name: str
    args: tuple[Any, ...]
    data: bytes

    @property
    def selector(self) -> bytes:
        return self.data[:4]


def _hex_bytes(value: Any) -> bytes | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and _HEX.match(value):
        return bytes.fromhex(value[2:])
    if isinstance(value, dict):  # some nodes nest it: {"data": "0x..."} or {"message": .., "data": ..}
        return _hex_bytes(value.get("data"))
    return None


def _from_message(message: str, *, reason_is_text: bool) -> bytes | None:
    """Revert bytes from an eth-tester style message ``execution reverted: b'...'``.

    With ``reason_is_text`` (eth-tester only) any other text is an already decoded
    ``Error(string)`` reason and is re-encoded as such.
    """
    match = _REVERTED.search(message)
    if match is None:
        return None
    tail = match.group(1).strip()
    if not tail:
        return None
    if tail.startswith(("b'", 'b"')):
        try:
            value = ast.literal_eval(tail)
        except (ValueError, SyntaxError):
            return None
        return bytes(value) if isinstance(value, bytes) else None
    if _HEX.match(tail):
        return bytes.fromhex(tail[2:])
    if not reason_is_text:
        return None
    # web3's eth-tester adapter already decoded an Error(string): re-encode it.
    from eth_abi import encode

    return bytes.fromhex("08c379a0") + encode(["string"], [tail])


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert data carried by ``exc`` (or an exception it was raised from), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        data = _hex_bytes(getattr(current, "data", None))
        if data is not None:
            return data
        response = getattr(current, "rpc_response", None)
        if isinstance(response, dict):
            data = _hex_bytes((response.get("error") or {}).get("data"))
            if data is not None:
                return data
        for arg in current.args:
            if isinstance(arg, bytes | bytearray):
                return bytes(arg)
            if isinstance(arg, str):
                data = _from_message(arg, reason_is_text=type(current).__name__ == "TransactionFailed")
                if data is not None:
                    return data
        current = current.__cause__ or current.__context__
    return None


def _errors() -> dict[bytes, ErrorAbi]:
    known = dict(load_artifact().errors)
    for name, error in load_artifact("FlexToken").errors.items():
        known.setdefault(name, error)
    for error in _BUILTIN_ERRORS:
        known.setdefault(error.selector, error)
    return known


def decode_revert_data(data: bytes) -> RevertInfo:
    """Decode raw revert data (selector + ABI-encoded arguments)."""
    from eth_abi import decode
    from eth_abi.exceptions import DecodingError
    from eth_utils import to_checksum_address

    data = bytes(data)
    if len(data) < 4:
        return RevertInfo(name="", args=(), data=data)
    error = _errors().get(data[:4])
    if error is None:
        return RevertInfo(name="0x" + data[:4].hex(), args=(data[4:],), data=data)
    try:
        values = decode(list(error.types), data[4:])
    except DecodingError:
        return RevertInfo(name=error.name, args=(data[4:],), data=data)
    args = tuple(to_checksum_address(v) if t == "address" else v for t, v in zip(error.types, values, strict=True))
    return RevertInfo(name=error.name, args=args, data=data)


def decode_revert(exc: BaseException) -> RevertInfo:
    """Decode the revert carried by ``exc`` (web3 ``ContractCustomError`` / ``Web3RPCError`` from
    a JSON-RPC node, or eth-tester's ``TransactionFailed``). ``ValueError`` if it carries none."""
    data = revert_data(exc)
    if data is None:
        raise ValueError(f"no revert data in {type(exc).__name__}: {exc}") from exc
    return decode_revert_data(data)
