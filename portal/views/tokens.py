"""The participant's FLEX tokens: held, being anchored, claimable and claimed; linking or changing the payout
wallet by signing a Sign-In-with-Ethereum message in the browser wallet (EIP-1193 ``window.ethereum``); claiming
through that wallet; and the proof bundle to claim without the platform (docs/claiming-tokens.md)."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from accounts import policies, wallets
from accounts.models import WalletLink
from flexplatform.errors import ApplicationError
from settlement import selectors_claims
from settlement.services import claims

from ..access import R, require_role


def _org(request):
    role = require_role(request, R.CONSUMER, R.AGGREGATOR, message="This page is for participants.")
    return policies.organisations(request.user, role=role)[0]


def _json_body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise ApplicationError("The body is not JSON.", fields={"body": ["Send a JSON object."]}) from None
    if not isinstance(body, dict):
        raise ApplicationError("The body is not a JSON object.", fields={"body": ["Send a JSON object."]})
    return body


def _error(exc: ApplicationError) -> JsonResponse:
    return JsonResponse({"code": exc.code, "detail": exc.detail, "fields": exc.fields}, status=exc.status_code)


@login_required
def tokens_page(request):
    org = _org(request)
    link = WalletLink.objects.filter(user=request.user).first()
    context = {
        "organisation": org,
        "wallet": link,
        "position": selectors_claims.token_position(organisation=org),
        "open_claims": selectors_claims.claims_open(organisation=org),
    }
    return render(request, "portal/tokens.html", context)


@login_required
@require_POST
def wallet_nonce(request):
    """A fresh EIP-4361 message for the address the wallet reported (each works once, for ten minutes)."""
    _org(request)
    try:
        body = _json_body(request)
        chain_id = body.get("chain_id", 1)
        if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
            raise ApplicationError("Invalid chain id.", fields={"chain_id": ["A positive integer."]})
        nonce = wallets.wallet_nonce_issue(
            user=request.user,
            address=str(body.get("address", "")),
            domain=request.get_host(),
            uri=request.build_absolute_uri("/"),
            chain_id=chain_id,
        )
    except ApplicationError as exc:
        return _error(exc)
    return JsonResponse({"message": nonce.message}, status=201)


@login_required
@require_POST
def wallet_link(request):
    """Link (or change) the wallet: the signed message's signer becomes the claim address."""
    _org(request)
    try:
        body = _json_body(request)
        link = wallets.wallet_link(
            user=request.user,
            message=str(body.get("message", "")),
            signature=str(body.get("signature", "")),
            domain=request.get_host(),
        )
    except ApplicationError as exc:
        return _error(exc)
    return JsonResponse({"address": link.address})


@login_required
@require_POST
def claims_refresh(request):
    """After the wallet sent a claim: read the chain's Claimed events now (the minute task does it anyway)."""
    _org(request)
    changed = claims.claims_sync()
    return JsonResponse({"changed": len(changed)})


@login_required
def claims_bundle(request):
    org = _org(request)
    bundle = selectors_claims.claims_bundle(organisation=org)
    response = HttpResponse(json.dumps(bundle, indent=2), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="flex-claims.json"'
    return response
