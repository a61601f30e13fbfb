"""The window assessment: every metered premise's flexible capacity for a delivery window, before gate closure,
in chunks of premises that the workers share (write service; the Celery adapters are ``assessment.tasks``).

Each premise is assessed by :func:`assessment.services.flexibility_assess` (a forecast baseline from its revenue
meter, capped device capacity, ADR 0029), which keeps an assessment already stored for the window: a chunk run
twice writes nothing new. One premise's refusal (e.g. no meter) is logged and does not stop its chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from accounts.models import GridZone, Premise
from accounts.selectors import zone_with_descendant_ids
from flexplatform.errors import ApplicationError

from .services import flexibility_assess

log = logging.getLogger(__name__)


def window_assessment_premise_ids(*, zone: GridZone | None = None) -> list[int]:
    """The premises to assess for a window: every premise with a meter (in ``zone`` or below it, if given),
    grouped by grid zone (a chunk then covers one zone, or a few), then by id."""
    premises = Premise.objects.filter(meters__isnull=False)
    if zone is not None:
        premises = premises.filter(grid_zone_id__in=zone_with_descendant_ids([zone]))
    return list(premises.distinct().order_by("grid_zone_id", "pk").values_list("pk", flat=True))


def flexibility_assess_premises(
    *, premise_ids: Iterable[int], window_start: datetime, window_end: datetime, now: datetime | None = None
) -> int:
    """Assess these premises for ``[window_start, window_end)`` (one transaction each); returns how many have an
    assessment for the window afterwards. Safe to run again."""
    done = 0
    for premise in Premise.objects.filter(pk__in=set(premise_ids)).order_by("pk"):
        try:
            flexibility_assess(premise=premise, window_start=window_start, window_end=window_end, now=now)
        except ApplicationError as exc:
            log.warning("window assessment: premise %s not assessed: %s", premise.pk, exc.detail)
            continue
        done += 1
    return done
