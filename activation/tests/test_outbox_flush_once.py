"""One outbox flush per transaction, however many times it dispatched (``outbox.outbox_flush_on_commit``)."""

from __future__ import annotations

import pytest
from django.db import transaction

from activation.services import outbox


@pytest.fixture
def enqueued(monkeypatch, settings):
    settings.OUTBOX_FLUSH_ON_COMMIT = True
    calls = []
    from activation import tasks

    monkeypatch.setattr(tasks.flush_outbox, "delay", lambda: calls.append(1))
    return calls


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_dispatches_many_times_enqueues_one_flush(enqueued):
    with transaction.atomic():
        for _ in range(5):
            outbox.outbox_flush_on_commit()
        assert enqueued == []  # nothing before the commit
    assert enqueued == [1]
    with transaction.atomic():
        outbox.outbox_flush_on_commit()
    assert enqueued == [1, 1]  # the next transaction has its own


@pytest.mark.django_db(transaction=True)
def test_a_registration_rolled_back_with_its_savepoint_is_made_again(enqueued):
    with transaction.atomic():
        try:
            with transaction.atomic():
                outbox.outbox_flush_on_commit()
                raise RuntimeError("the savepoint's work is undone")
        except RuntimeError:
            pass
        outbox.outbox_flush_on_commit()  # the outer block's own writes still need their flush
    assert enqueued == [1]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_enqueues_nothing(enqueued):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.outbox_flush_on_commit()
        raise RuntimeError
    assert enqueued == []
