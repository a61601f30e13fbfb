"""flexplatform.snapshots: copies kept per process while their version tokens stand, and no longer."""

from __future__ import annotations

import pytest

from flexplatform import snapshots


class Source:
    """A value read from "the database", counting its reads."""

    def __init__(self, value, valid_for=None):
        self.value, self.valid_for, self.reads = value, valid_for, 0

    def load(self):
        self.reads += 1
        return self.value, self.valid_for


def _get(s: snapshots.Snapshots, source: Source, key="k", deps=("t-test",)):
    (value,) = s.get([snapshots.Request(key, deps, source.load)])
    return value


def test_a_copy_is_reused_until_its_token_is_renewed_on_commit(db, django_capture_on_commit_callbacks):
    s, src = snapshots.Snapshots(), Source(1)
    assert _get(s, src) == 1 and _get(s, src) == 1 and src.reads == 1
    src.value = 2
    with django_capture_on_commit_callbacks(execute=True):
        snapshots.invalidate("t-test")
        assert _get(s, src) == 2  # the changing transaction reads live ...
    assert src.reads == 2
    assert _get(s, src) == 2 and src.reads == 3  # ... and once committed, every reader reloads once
    assert _get(s, src) == 2 and src.reads == 3


def test_an_uncommitted_change_is_never_kept(db):
    s, src = snapshots.Snapshots(), Source(1)
    _get(s, src)
    snapshots.invalidate("t-test")  # inside the test's transaction: pending until a commit that never comes
    src.value = 2
    assert _get(s, src) == 2 and _get(s, src) == 2 and src.reads == 3
    snapshots.forget_pending()  # rolled back: the copy kept under the standing token is the committed value
    assert _get(s, src) == 1


def test_an_answer_is_kept_no_longer_than_it_says_nor_than_the_ttl(db, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(snapshots.time, "monotonic", lambda: clock[0])
    s, src = snapshots.Snapshots(ttl_seconds=60), Source(1, valid_for=10)
    _get(s, src)
    clock[0] += 9
    _get(s, src)
    assert src.reads == 1
    clock[0] += 2  # past its own 10 s
    src.valid_for = None  # this time it has no limit of its own
    _get(s, src)
    assert src.reads == 2
    clock[0] += 59
    _get(s, src)
    assert src.reads == 2
    clock[0] += 61  # past the ttl
    _get(s, src)
    assert src.reads == 3


def test_without_tokens_every_read_is_live(db, monkeypatch):
    class Down:
        def get_many(self, names):
            raise ConnectionError("redis down")

    monkeypatch.setattr(snapshots, "_store", Down())
    s, src = snapshots.Snapshots(), Source(1)
    assert _get(s, src) == 1 and _get(s, src) == 1 and src.reads == 2


def test_copies_are_bounded(db):
    s = snapshots.Snapshots(max_copies=10)
    for i in range(25):
        _get(s, Source(i), key=("k", i))
    assert len(s._copies) <= 10
    assert ("k", 24) in s._copies  # the newest stay


@pytest.mark.redis
def test_tokens_in_redis_are_shared_by_every_process(db, settings):
    """Two stores on the same Redis (two processes) see one token; a renewal by one is seen by the other."""
    a = snapshots._RedisTokens(settings.REDIS_URL, "snap:test-shared:")
    b = snapshots._RedisTokens(settings.REDIS_URL, "snap:test-shared:")
    a.bump(["x"])
    (ta,), (tb,) = a.get_many(["x"]), b.get_many(["x"])
    assert ta == tb
    b.bump(["x"])
    assert a.get_many(["x"]) != [ta]


class CountingTokens(snapshots._LocalTokens):
    def __init__(self):
        super().__init__()
        self.calls = []

    def get_many(self, names):
        self.calls.append(list(names))
        return super().get_many(names)


def test_a_request_reads_each_token_once_and_again_after_its_own_commit(db, monkeypatch):
    store = CountingTokens()
    monkeypatch.setattr(snapshots, "_store", store)
    snapshots.request_started()
    try:
        snapshots.prefetch(["t-a", "t-b"])
        s = snapshots.Snapshots()
        src = Source(1)
        _get(s, src, deps=("t-a", "t-b"))
        _get(s, Source(2), key="k2", deps=("t-a",))
        assert store.calls == [["t-a", "t-b"]]  # one round trip for the whole request
        _get(s, src, deps=("t-a", "t-b"))
        assert src.reads == 1
        snapshots._publish({"t-a"})  # this request committed a change to t-a
        _get(s, src, deps=("t-a", "t-b"))
        assert store.calls == [["t-a", "t-b"], ["t-a"]] and src.reads == 2
    finally:
        snapshots.request_finished()
    _get(snapshots.Snapshots(), Source(1), deps=("t-a",))
    assert len(store.calls) == 3  # outside a request, every read asks
