"""Per-process copies of slow-changing read models, kept while the version tokens they were read under stand.

The order path asks the same questions on every order (may this seller trade, which premises may it offer,
what is a premise's accredited capacity made of, which zones lie below which), and their answers change at
human speed: a verification decided, a consent revoked, a day's assessment written. Each answer is computed by
its one selector and kept in the process that computed it, tagged with the version tokens of what it was
built from (``deps``). A read fetches the current tokens in one round trip (Redis ``MGET`` when
``REDIS_URL`` is set: every process sees a change; else this process's own table, the embedded
single-process default) and reuses a copy only if its tokens are still the current ones and its time has not
run out (``ttl_seconds``, or sooner when the answer itself expires: a verification's end).

Writers call :func:`invalidate` with the tokens their change touches (signal receivers do it for every save
and delete of the models behind the answers). The new token is published once the writer's transaction
commits, so no process can keep a copy of data that was about to change; until then, the writing transaction
itself reads those answers live (it can see its own uncommitted change) and keeps no copy of them.

Nothing decided here is money or a lock: the figures a safety rule needs live (the kW already committed
under the premise's row lock) are still read from the database by the caller.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

#: the token of answers built from the parties: organisations, memberships, verification cases, consents,
#: enrolments, premises and zones (renewed by ``market.services.eligibility``'s receivers; read by the market's
#: seller facts and by token authentication)
PARTIES = "parties"
#: a published token lives this long in Redis; when it is gone, a new one is made and every copy reloads.
TOKEN_TTL_SECONDS = 24 * 3600


class _LocalTokens:
    """Tokens in this process only (no Redis: the embedded default, where one process serves everything)."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def get_many(self, names: list[str]) -> list[str]:
        with self._lock:
            return [self._tokens.setdefault(n, uuid.uuid4().hex) for n in names]

    def bump(self, names: Iterable[str]) -> None:
        with self._lock:
            for n in names:
                self._tokens[n] = uuid.uuid4().hex


class _RedisTokens:
    """Tokens in Redis, shared by every process (web workers, Celery workers, beat)."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix

    def get_many(self, names: list[str]) -> list[str]:
        keys = [self._prefix + n for n in names]
        values = self._client.mget(keys)
        missing = [k for k, v in zip(keys, values, strict=True) if v is None]
        if missing:
            pipe = self._client.pipeline(transaction=False)
            for k in missing:
                pipe.set(k, uuid.uuid4().hex, nx=True, ex=TOKEN_TTL_SECONDS)
            pipe.execute()
            values = self._client.mget(keys)
        return [v.decode() if isinstance(v, bytes) else str(v) for v in values]

    def bump(self, names: Iterable[str]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for n in names:
            pipe.set(self._prefix + n, uuid.uuid4().hex, ex=TOKEN_TTL_SECONDS)
        pipe.execute()


_store_lock = threading.Lock()
_store: _LocalTokens | _RedisTokens | None = None


def _tokens() -> _LocalTokens | _RedisTokens:
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                url = getattr(settings, "REDIS_URL", "")
                db = settings.DATABASES["default"].get("NAME")
                _store = _RedisTokens(url, f"snap:{db}:") if url else _LocalTokens()
    return _store


class _Pending(threading.local):
    """Token names this thread's open transaction has changed (published at commit)."""

    def __init__(self) -> None:
        self.names: set[str] = set()


_pending = _Pending()


class _RequestTokens(threading.local):
    """Tokens read during the current web request, so that it reads each at most once (None: no request)."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] | None = None


_request = _RequestTokens()


def request_started(**kwargs) -> None:
    """Signal receiver: a request starts with no tokens read (connected in ``flexplatform.apps``)."""
    _request.tokens = {}


def request_finished(**kwargs) -> None:
    _request.tokens = None


def prefetch(names: list[str]) -> None:
    """Read these tokens now, in one round trip, for the rest of the request (a view that knows what its
    request will ask for: the order endpoint reads its tokens once instead of once per question)."""
    if _request.tokens is None:
        return
    wanted = [n for n in dict.fromkeys(names) if n not in _request.tokens]
    if wanted:
        try:
            _request.tokens.update(zip(wanted, _tokens().get_many(wanted), strict=True))
        except Exception:  # noqa: BLE001 - read again (and fail live) when asked
            logger.warning("snapshot tokens unreachable", exc_info=True)


def _current(names: list[str]) -> dict[str, str]:
    """The tokens, from this request's reads where it made them, the rest in one round trip."""
    known = _request.tokens
    if known is None:
        return dict(zip(names, _tokens().get_many(names), strict=True))
    missing = [n for n in names if n not in known]
    if missing:
        known.update(zip(missing, _tokens().get_many(missing), strict=True))
    return {n: known[n] for n in names}


def _pending_names() -> set[str]:
    if _pending.names and not connection.in_atomic_block:
        _pending.names.clear()  # the transaction that changed them has ended (committed or rolled back)
    return _pending.names


def forget_pending() -> None:
    """Drop this thread's record of uncommitted changes (a test's transaction is rolled back unseen)."""
    _pending.names.clear()


def invalidate(*names: str) -> None:
    """What was built from ``names`` is out of date once the current transaction commits (at once outside one).

    At commit, one publication of everything the transaction changed (:func:`is_publication` tells these
    callbacks among the transaction's others)."""
    if not names:
        return
    if not connection.in_atomic_block:
        _publish(set(names))
        return
    _pending.names.update(names)
    transaction.on_commit(_publish_pending, robust=True)  # the first to run publishes all; the rest find none


def _publish_pending() -> None:
    names, _pending.names = _pending.names, set()
    _publish(names)


def _publish(names: set[str]) -> None:
    if not names:
        return
    if _request.tokens is not None:  # this request reads them again
        for name in names:
            _request.tokens.pop(name, None)
    try:
        _tokens().bump(sorted(names))
    except Exception:  # the copies run out after their ttl; the database stays the truth
        logger.exception("snapshot tokens unreachable: cannot publish a change to %s", sorted(names))


def is_publication(callback) -> bool:
    """Whether an on-commit callback is this module's publication of changed tokens."""
    return callback is _publish_pending


@dataclass(frozen=True)
class Request:
    """One answer wanted: its ``key`` in the copies, the token names it is built from, and how to compute it.
    ``load`` returns the answer and how many seconds it stays true at most (None: no limit of its own)."""

    key: Hashable
    deps: tuple[str, ...]
    load: Callable[[], tuple[object, float | None]]
    #: optional: computes the answers of many requests of one kind at once (given their keys, returns what
    #: each ``load`` would, in order); the requests missing a copy that share it are computed in one call
    load_many: Callable[[list[Hashable]], list[tuple[object, float | None]]] | None = None


class Snapshots:
    """A family of copies (e.g. the market's seller facts), each kept at most ``ttl_seconds``."""

    def __init__(self, *, ttl_seconds: float = 300.0, max_copies: int = 20_000) -> None:
        self.ttl = ttl_seconds
        self.max_copies = max_copies
        self._copies: dict[Hashable, tuple[tuple[str, ...], float, object]] = {}

    def _keep(self, key: Hashable, copy: tuple[tuple[str, ...], float, object], now: float) -> None:
        """Keep a copy; past ``max_copies``, the expired ones go, then the oldest half (a bounded memory)."""
        self._copies.pop(key, None)
        self._copies[key] = copy
        if len(self._copies) > self.max_copies:
            self._copies = {k: c for k, c in self._copies.items() if c[1] > now}
            if len(self._copies) > self.max_copies // 2:
                self._copies = dict(list(self._copies.items())[-(self.max_copies // 2) :])

    def get(self, requests: list[Request]) -> list[object]:
        """The answers, in order: copies where they still stand, computed (and kept) where not."""
        names = sorted({n for r in requests for n in r.deps})
        try:
            current = _current(names)
        except Exception:  # noqa: BLE001 - no tokens, no copies: compute live
            logger.warning("snapshot tokens unreachable; computing live", exc_info=True)
            current = None
        pending = _pending_names()
        now = time.monotonic()
        out: list[object] = []
        missing: list[tuple[int, Request, tuple[str, ...] | None, bool]] = []
        for r in requests:
            tokens = tuple(current[n] for n in r.deps) if current is not None else None
            changing = bool(pending) and not pending.isdisjoint(r.deps)  # by this transaction: read live
            copy = self._copies.get(r.key)
            if tokens is not None and not changing and copy is not None and copy[0] == tokens and copy[1] > now:
                out.append(copy[2])
                continue
            out.append(None)
            missing.append((len(out) - 1, r, tokens, changing))
        batches: dict[object, list] = {}
        for m in missing:
            batches.setdefault(m[1].load_many or m[1].load, []).append(m)
        for loader, batch in batches.items():
            if batch[0][1].load_many is None:
                loaded = [r.load() for _, r, _, _ in batch]
            else:
                loaded = loader([r.key for _, r, _, _ in batch])
            for (i, r, tokens, changing), (value, valid_for) in zip(batch, loaded, strict=True):
                out[i] = value
                if tokens is not None and not changing:
                    life = self.ttl if valid_for is None else min(self.ttl, valid_for)
                    if life > 0:
                        self._keep(r.key, (tokens, now + life, value), now)
        return out

    def clear(self) -> None:
        self._copies.clear()
