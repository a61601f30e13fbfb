"""Signed webhooks to aggregators: HMAC-SHA256 over ``<timestamp>.<body>``.

Headers sent::

    X-Flex-Timestamp: 1767225600                     (Unix seconds)
    X-Flex-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
    X-Flex-Message-Id: <uuid>                         (same on every retry: dedupe on it)

A receiver recomputes the HMAC over the raw body bytes, compares in constant time, and refuses a timestamp
more than 5 minutes from its clock (replay window) — :func:`verify` is that receiver check.

Every send goes through ``flexplatform.core.egress`` (public addresses only, checked when connecting; no
redirects followed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import requests

from flexplatform.core import egress

TOLERANCE_SECONDS = 300


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def verify(*, secret: str, timestamp: str, signature: str, body: bytes, now: float | None = None) -> bool:
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - ts) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret=secret, timestamp=ts, body=body), signature or "")


@dataclass
class WebhookResult:
    ok: bool
    status: int | None
    error: str = ""


def deliver(*, url: str, secret: str, message_id: str, payload: dict, timeout: float = 5.0) -> WebhookResult:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Flex-Timestamp": str(ts),
        "X-Flex-Signature": sign(secret=secret, timestamp=ts, body=body),
        "X-Flex-Message-Id": message_id,
    }
    try:
        response = egress.post(url, data=body, headers=headers, timeout=timeout)
    except egress.EgressRefused as exc:
        return WebhookResult(False, None, f"refused: {exc.detail}"[:400])
    except requests.RequestException as exc:
        return WebhookResult(False, None, str(exc)[:400])
    return WebhookResult(
        200 <= response.status_code < 300, response.status_code, "" if response.ok else response.text[:400]
    )


def deliver_notification(*, url: str, bearer: str | None, payload: dict, timeout: float = 5.0) -> WebhookResult:
    """An OpenADR 3 ``notification`` to a subscription's callbackUrl, authenticated with its bearerToken."""
    headers = {"Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    try:
        response = egress.post(url, json=payload, headers=headers, timeout=timeout)
    except egress.EgressRefused as exc:
        return WebhookResult(False, None, f"refused: {exc.detail}"[:400])
    except requests.RequestException as exc:
        return WebhookResult(False, None, str(exc)[:400])
    return WebhookResult(
        200 <= response.status_code < 300, response.status_code, "" if response.ok else response.text[:400]
    )
