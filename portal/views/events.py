"""The consumer's per-event page and the opt-out with a preview of its consequence and a confirmation."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone

from activation.services import event_opt_out
from flexplatform.errors import ApplicationError

from .. import formatting as fmt
from .. import selectors_consumer as consumer
from ..access import R, require_role


def _event(request, pk: int):
    event = consumer.consumer_event(request.user, pk)
    if event is None:
        raise Http404
    return event


@login_required
def event_page(request, pk: int):
    require_role(request, R.CONSUMER, message="Event pages are for the consumer whose premise the event is for.")
    context = consumer.event_detail(event=_event(request, pk), currency=settings.SETTLEMENT_CURRENCY)
    return render(request, "activation/event.html", context)


@login_required
def event_opt_out_page(request, pk: int):
    """GET (or a POST without ``confirm``): the preview of what opting out costs now; POST ``confirm``: opt out."""
    require_role(request, R.CONSUMER)
    event = _event(request, pk)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            opt = event_opt_out(event_id=pk, user=request.user)
        except ApplicationError as exc:
            messages.error(request, f"Refused: {exc.detail}")
        else:
            penalty = next((p for p in event.penalties.all() if p.reason == "opt_out"), None)
            cost = f" A penalty of {fmt.money(penalty.amount)} was posted." if penalty else ""
            messages.success(
                request, f"Opted out ({opt.get_phase_display().lower()}): {opt.get_consequence_display()}.{cost}"
            )
        return redirect("activation:event", pk=pk)
    preview = consumer.opt_out_preview(event=event, now=timezone.now(), currency=settings.SETTLEMENT_CURRENCY)
    return render(request, "activation/opt_out.html", {"event": event, **preview})
