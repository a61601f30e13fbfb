"""Rounding units of activation's energy and money figures."""

from __future__ import annotations

from decimal import Decimal

KWH = Decimal("0.0001")


MONEY = Decimal("0.01")
