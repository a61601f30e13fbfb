"""Portal pages of settlement: one payment with its Merkle proof and a button to verify it on chain."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from . import selectors


@login_required
def payment_detail(request, pk: int):
    item = selectors.items_visible_to(request.user).filter(pk=pk).first()
    if item is None:
        raise Http404("No such payment.")
    return render(request, "settlement/payment.html", {"item": item, "bundle": selectors.item_proof(item=item)})
