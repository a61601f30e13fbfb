"""``manage.py demo``: load the demo world, run one market day through all seven steps, print a summary,
and (with ``--serve``) serve the portal. Starts a local anvil (state under ``var/``) when the configured
chain is the default local one and nothing answers there."""

from __future__ import annotations

import contextlib
import time
from decimal import Decimal
from urllib.parse import urlparse

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

import demo


def _rpc_answers(url: str) -> bool:
    import json
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=1) as resp:  # noqa: S310 - local RPC URL from settings
            return resp.status == 200
    except OSError:
        return False


class Command(BaseCommand):
    help = "Load the demo world, run one market day end to end, print a summary; --serve then serves the portal."

    def add_arguments(self, parser):
        parser.add_argument("--serve", action="store_true", help="Serve the portal on 127.0.0.1:8000 afterwards.")
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, **options):
        with contextlib.ExitStack() as stack:
            self._ensure_chain(stack)
            t0 = time.monotonic()
            world = demo.world_load()
            day = demo.market_day()
            stored = demo.history_load(world=world, until=day)
            self.stdout.write(
                f"World: 1 grid operator, 1 aggregator, {len(world.premises)} consumer premises; "
                f"{stored} new meter readings."
            )
            result = demo.market_day_run(world=world, day=day, simulate_devices=True)
            self._print_summary(world, result, time.monotonic() - t0)
            if options["serve"]:
                self.stdout.write(
                    self.style.SUCCESS(f"Serving the portal at http://{options['addr']}/ (Ctrl-C to stop)")
                )
                call_command("runserver", options["addr"], use_reloader=False)

    def _ensure_chain(self, stack: contextlib.ExitStack) -> None:
        url = settings.CHAIN_RPC_URL
        if not url.startswith("http") or _rpc_answers(url):
            return
        parsed = urlparse(url)
        if parsed.hostname not in ("127.0.0.1", "localhost"):
            self.stderr.write(f"The chain at {url} does not answer; anchoring will wait until it does.")
            return
        from settlement.chain.anvil import AnvilProcess

        state = settings.VAR_DIR / "anvil-state.json"
        anvil = AnvilProcess(port=parsed.port or 8545, state_file=state)
        anvil.start()
        stack.callback(anvil.stop)
        self.stdout.write(f"Started a local anvil at {url} (state in {state}).")

    def _print_summary(self, world, r, seconds: float) -> None:
        w = self.stdout.write
        w("")
        w(
            self.style.MIGRATE_HEADING(
                f"Market day {r.day.isoformat()} ({demo.TZ})"
                + (" — already run, summary from the database" if r.already_run else "")
            )
        )
        w(f"  1 onboarding     {len(world.premises)} premises with 15-minute meters")
        w(f"  3 offers         {r.offers}")
        w(f"  4 requests       {r.requests}, awards {r.awards}, awarded {r.awarded_kw:.3f} kW")
        a = r.auction
        if a is not None:
            c = settings.SETTLEMENT_CURRENCY
            w(
                f"    day-ahead      {a.product} auction for {a.zone}: {a.orders} orders, {len(a.awards)} awards, "
                f"awarded {a.awarded_kw:.3f} kW"
            )
            for start, price, volume in a.intervals:
                w(f"      cleared      {start:%Y-%m-%d %H:%M}Z  {volume:.3f} kW at {price:.2f} {c}/MWh")
            for start, premise, seller, kw, price in a.awards:
                w(f"      award        {start:%H:%M}Z  {premise:24s} {kw:9.3f} kW at {price:.2f}  sold by {seller}")
        if r.reservations:
            c = settings.SETTLEMENT_CURRENCY
            held = sum((kw for _, _, _, kw, _ in r.reservations), Decimal("0"))
            w(
                f"    capacity       day-ahead capacity auction for {demo.RESERVATION_ZONE}: {len(r.reservations)} "
                f"reservations, {held:.3f} kW-h held (ADR 0011)"
            )
            for start, premise, seller, kw, price in r.reservations:
                w(
                    f"      reserved     {start:%H:%M}Z  {premise:24s} {kw:9.3f} kW at {price:.2f} {c}/MW-h  sold by {seller}"
                )
            for event_id, premise, kw, available in r.calls:
                state = {True: "honoured", False: "not honoured (no acknowledgement)", None: "not verified"}[available]
                w(f"      called       event {event_id:<6d} {premise:24s} {kw:9.3f} kW: {state}")
        w(f"  5 events         {r.events} dispatched")
        for (channel, kind), (n, kw) in r.commands.items():
            w(f"    commands       {channel:12s} {kind:18s} {n:4d} devices  {kw:9.3f} kW")
        if r.devices:
            w(f"    devices        {r.devices}")
        w(f"  6 verified       {r.delivered_kwh:.4f} kWh delivered")
        if r.measured_vs_true_pct is not None:
            w(
                f"    measured/true  {r.delivered_kwh:.1f} / {r.true_kwh:.1f} kWh ({r.measured_vs_true_pct:+.1f} %; "
                "the generator's true reduction over the verified events; target within ±10 %)"
            )
        c = settings.SETTLEMENT_CURRENCY
        w(
            f"  7 settled        daily run {r.run.window_start:%Y-%m-%d %H:%M}Z to {r.run.window_end:%Y-%m-%d %H:%M}Z: "
            f"{r.payments} items to participants (payments, credits, penalties), net {r.paid:.2f} {c}; "
            f"platform fees {r.fees:.2f} {c}"
        )
        for event_id, verified, settled in r.settled_events[:5]:
            when = f"settled {settled:%H:%M:%S}" if settled is not None else "nothing owed"
            w(f"    event {event_id:<6d}   verified {verified:%H:%M:%S}, {when} (UTC)")
        if r.settlement_lag is not None:
            w(
                f"    event path     {sum(1 for e in r.settled_events if e[2])} events paid on verification; longest wait "
                f"{r.settlement_lag.total_seconds():.1f} s (the daily run above is the sweep)"
            )
        w(
            f"    portfolio      {r.portfolio_awards} awards sold by the aggregator: member shares "
            f"{r.member_shares:.2f} {c}, aggregator fees {r.aggregator_fees:.2f} {c} (terms accepted at consent)"
        )
        tokens = ", ".join(f"{v:.2f} {k}" for k, v in sorted(r.tokens.items())) or "none"
        w(f"                   tokens {tokens}; ledger balanced: {r.ledger_balanced}")
        cap, avl = (r.tokens.get(a, Decimal("0")) for a in ("FLEX-CAP", "FLEX-AVL"))
        w(f"                   capacity tokens {cap:.2f} FLEX-CAP, availability tokens {avl:.2f} FLEX-AVL")
        if r.reservation_run is not None:
            w(
                f"    reservations   UTC-day run {r.reservation_run.window_start:%Y-%m-%d %H:%M}Z to "
                f"{r.reservation_run.window_end:%Y-%m-%d %H:%M}Z: availability paid, Capacity tokens per kW-hour "
                "held x availability factor, Availability tokens per honoured hour (ADR 0024)"
            )
        for a in r.anchors:
            w(f"    anchored hour {a.period.start:%Y-%m-%d %H:%M}Z  leaves {a.leaf_count}  root {a.root}")
            w(f"                  status {a.status}  tx {a.tx_hash}  block {a.block_number}")
        claim = getattr(r, "claim", None)
        if claim is not None:
            w(
                f"  8 tokens claimed {claim.email} linked wallet {claim.address} (signed in, SIWE); FlexToken {claim.contract}"
            )
            for asset, tx_hash, gas in claim.claims:
                w(f"                   claim {asset:9s} tx {tx_hash}  gas {gas}")
            held = ", ".join(f"{units / 100:.2f} {asset}" for asset, units in sorted(claim.balances.items())) or "none"
            w(f"                   on-chain balance of {claim.address}: {held}")
        w(f"  ({seconds:.1f} s)")
        w("")
        w(self.style.MIGRATE_HEADING(f"Demo logins (password: {demo.PASSWORD})"))
        for role, email in world.logins:
            w(f"  {role:36s} {email}")
        w(f"  Grid operators and admins also need a TOTP code (MFA): add the secret {demo.TOTP_SECRET}")
        w("  to an authenticator app, or print the current code with:")
        w("  .venv/bin/python manage.py demo_totp")
