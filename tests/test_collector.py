"""``flexplatform.collector.collection_paused``: automatic garbage collection off inside, back as it was after
(nested and concurrent blocks; never switched on by a block that found it off), and an error inside still restores it."""

from __future__ import annotations

import gc
import threading

import pytest

from flexplatform.collector import collection_paused


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    gc.enable() if was else gc.disable()


def test_collection_is_off_inside_and_back_after_nested_blocks_and_errors(collector_on):
    with collection_paused():
        assert not gc.isenabled()
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still holds it
    assert gc.isenabled()
    with pytest.raises(ValueError), collection_paused():
        raise ValueError
    assert gc.isenabled()

    @collection_paused()
    def bulk():
        return gc.isenabled()

    assert bulk() is False and gc.isenabled()


def test_a_block_never_switches_on_a_collector_found_off(collector_on):
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()


def test_concurrent_blocks_keep_it_off_until_the_last_ends(collector_on):
    inside, leave = threading.Event(), threading.Event()

    def other():
        with collection_paused():
            inside.set()
            leave.wait(5)

    t = threading.Thread(target=other)
    with collection_paused():
        t.start()
        inside.wait(5)
    assert not gc.isenabled()  # the other thread's block is still open
    leave.set()
    t.join(5)
    assert gc.isenabled()
