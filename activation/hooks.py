"""What activation lends the lower layers and how it answers the market's signals, connected at start-up by
``activation.apps.ActivationConfig.ready()``.

* :class:`ActivationFacts`: the provider of activation's facts that assessment reads (event days, verified
  events, derate, suspension), registered with ``assessment.hooks.register_activation_facts``. One mechanism
  for those facts; why a provider and not a copy kept by assessment is written in ``assessment.hooks``.
* :func:`on_awards_committed`: the receiver of ``market.hooks.awards_committed``: each committed award becomes an
  event or a reservation, through the ``create_event_for_award`` task (already sent from ``on_commit``).
* the premise sources of ``market.hooks``: the market's kept capacity answers of a premise depend on its
  enrollments (derate, suspension) and verified events (reliability), renewed on every write to them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from assessment.hooks import VerifiedEvent


class ActivationFacts:
    """Activation's facts for assessment (``assessment.hooks.ActivationFacts``), read from activation's rows."""

    def event_days(self, *, premise_id: int, tz: str) -> set[date]:
        from .selectors import event_days_for_premise

        return event_days_for_premise(premise_id=premise_id, tz=tz)

    def event_days_many(self, premise_tz: dict[int, str]) -> dict[int, set[date]]:
        """``selectors.event_days_for_premise`` for many premises (premise id -> its timezone) in one read."""
        from zoneinfo import ZoneInfo

        from .bulk import in_values
        from .models import DREvent

        days: dict[int, set[date]] = {pk: set() for pk in premise_tz}
        zones = {tz: ZoneInfo(tz) for tz in set(premise_tz.values())}
        rows = (
            DREvent.objects.filter(premise_id__in=in_values(sorted(premise_tz)))
            .exclude(status=DREvent.Status.CANCELLED)
            .order_by()
            .values_list("premise_id", "start", "end")
        )
        for premise_id, start, end in rows:
            zone = zones[premise_tz[premise_id]]
            days[premise_id].add(start.astimezone(zone).date())
            days[premise_id].add(end.astimezone(zone).date())
        return days

    def verified_events(self, *, premise_id: int, limit: int | None = None) -> list[VerifiedEvent]:
        from .models import EventVerification

        qs = (
            EventVerification.objects.filter(event__premise=premise_id)
            .select_related("event")
            .order_by("-event__start", "-pk")
        )
        if limit:
            qs = qs[:limit]
        return [
            VerifiedEvent(
                event_id=v.event_id,
                start=v.event.start,
                end=v.event.end,
                committed_kwh=v.committed_kwh,
                delivered_kwh=v.delivered_kwh,
            )
            for v in qs
        ]

    def derate(self, premise_id: int) -> Decimal:
        from .selectors import resource_derate

        return resource_derate(premise_id)

    def suspended(self, premise_id: int) -> bool:
        from .selectors import resource_suspended

        return resource_suspended(premise_id)

    def device_usage(self, *, device_ids: list[int], day: date) -> dict[int, tuple[int, int]]:
        from .selectors import device_usage

        return device_usage(device_ids=device_ids, day=day)

    def factors_many(self, premise_ids) -> dict[int, tuple[Decimal, bool]]:
        from django.db.models import Count, Min, Q

        from .models import Enrollment

        rows = (
            Enrollment.objects.filter(premise_id__in=premise_ids)
            .order_by()  # no join for the model's ordering: a grouped read
            .values("premise_id")
            .annotate(d=Min("derate"), s=Count("pk", filter=Q(status=Enrollment.Status.SUSPENDED)))
        )
        return {r["premise_id"]: (r["d"] if r["d"] is not None else Decimal("1"), r["s"] > 0) for r in rows}

    def verified_events_many(self, premise_ids, *, limit: int | None = None) -> dict[int, list[VerifiedEvent]]:
        from .models import EventVerification

        out: dict[int, list[VerifiedEvent]] = {}
        rows = (
            EventVerification.objects.filter(event__premise_id__in=premise_ids)
            .order_by("event__premise_id", "-event__start", "-pk")
            .values_list(
                "event__premise_id", "event_id", "event__start", "event__end", "committed_kwh", "delivered_kwh"
            )
        )
        for pid, eid, start, end, committed, delivered in rows:
            events = out.setdefault(pid, [])
            if limit is None or len(events) < limit:
                events.append(VerifiedEvent(eid, start, end, committed, delivered))
        return out

    def deliveries_many(self, premise_ids, *, limit: int) -> dict[int, list[tuple[Decimal, Decimal]]]:
        from django.db.models import F, Window
        from django.db.models.functions import RowNumber

        from .models import EventVerification

        rows = (
            EventVerification.objects.filter(event__premise_id__in=premise_ids)
            .annotate(
                rank=Window(
                    RowNumber(),
                    partition_by=F("event__premise_id"),
                    order_by=[F("event__start").desc(), F("pk").desc()],
                )
            )
            .filter(rank__lte=limit)
            .order_by("event__premise_id", "rank")
            .values_list("event__premise_id", "delivered_kwh", "committed_kwh")
        )
        out: dict[int, list[tuple[Decimal, Decimal]]] = {}
        for pid, delivered, committed in rows:
            out.setdefault(pid, []).append((delivered, committed))
        return out


def on_awards_committed(sender, *, award_ids: list[int], **kwargs) -> None:
    """Turn each committed award into an event (or a reservation): one task per award, idempotent per award."""
    from .tasks import create_event_for_award

    for pk in award_ids:
        create_event_for_award.delay(pk)


def _verification_premise_id(verification) -> int | None:
    from .models import DREvent

    return DREvent.objects.filter(pk=verification.event_id).values_list("premise_id", flat=True).first()


def connect() -> None:
    from assessment.hooks import register_activation_facts

    register_activation_facts(ActivationFacts())
    from market import hooks as market_hooks

    from .models import Enrollment, EventVerification

    # one receiver per award hand-off: this dispatch_uid is connected once, whichever module connects it
    market_hooks.awards_committed.connect(on_awards_committed, dispatch_uid="activation-event-for-award")
    market_hooks.register_premise_source(Enrollment, lambda enrollment: enrollment.premise_id)
    market_hooks.register_premise_source(EventVerification, _verification_premise_id)
