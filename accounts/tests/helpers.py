"""Test helpers for accounts: TOTP codes computed independently of allauth (RFC 6238, SHA-1, 30 s, 6 digits)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time


def totp_now(secret_b32: str, *, at: float | None = None) -> str:
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    counter = int((at if at is not None else time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"
