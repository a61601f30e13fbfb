"""Shared helpers for tests that talk to a chain (eth-tester in process, or anvil)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from settlement.chain.errors import RevertInfo, decode_revert


def expect_revert(fn: Callable[[], Any], error_name: str, *args: Any) -> RevertInfo:
    """Call ``fn`` and check that it reverts with the custom error ``error_name`` (and ``args``,
    when given). Works for web3's ContractCustomError (anvil) and eth-tester's TransactionFailed."""
    try:
        fn()
    except Exception as exc:  # any backend's revert exception
        try:
            info = decode_revert(exc)
        except ValueError:
            raise AssertionError(f"expected revert {error_name}, got {type(exc).__name__}: {exc}") from exc
        assert info.name == error_name, f"expected revert {error_name}, got {info.name}{info.args}"
        if args:
            assert info.args == args, f"{error_name} arguments {info.args} != expected {args}"
        return info
    pytest.fail(f"expected revert {error_name}, but the call succeeded")
