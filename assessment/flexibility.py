"""Flexibility measures of a resource: load shifting, peak shaving, availability by hour of week,
seasonal profiles, and the reliability factor from performance history. Pure (numpy + dataclasses).

Sources for the rules:

* Reliability / performance factor: delivered / committed per event, capped at 1 per event and
  averaged energy-weighted over the recent events - the "performance factor" used to de-rate
  capacity in PJM's Capacity Performance and in CAISO's Reliability Demand Response Resource
  performance evaluation. Accredited capacity = assessed kW × reliability factor (the issue's rule).
* Peak-shaving capacity: the kW that can be held down in *every* interval of the system peak window
  (so the minimum over the window), as used for capacity accreditation of demand resources
  (e.g. PJM's "Firm Service Level" test over the peak hours).
* Load shifting: energy of flexible devices that can be moved from one window to another within
  the devices' power, energy and state-of-charge limits and their maximum deferral.
* Curtailment availability score 0-100 by hour of week: documented below in
  :func:`availability_scores` (a platform rule, no ISO defines one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np


@dataclass(frozen=True)
class DeviceConstraint:
    """What one flexible device (or device class) can do - the input from the device registry.

    ``kind``: "storage" (battery), "deferrable" (EV charging, water heating, pool pump, process batch)
    or "curtailable" (HVAC set-back, lighting). ``power_kw`` is the largest change in draw;
    ``share_of_load`` the part of the premise's load the device accounts for (deferrable / curtailable);
    ``energy_kwh`` its storage capacity; ``soc`` the state of charge 0-1 (storage);
    ``max_shift_hours`` the longest a deferrable load may be moved; ``available`` whether it is online.
    """

    kind: str
    power_kw: float
    share_of_load: float = 0.0
    energy_kwh: float = 0.0
    soc: float = 0.5
    min_soc: float = 0.1
    max_shift_hours: float = 24.0
    available: bool = True


def reliability_factor(delivered: Sequence[float], committed: Sequence[float], *, prior_events: int = 0) -> float:
    """Σ min(delivered, committed) / Σ committed over past events; 1.0 without history.

    Over-delivery on one event does not make up for a shortfall on another (capped per event).
    ``prior_events`` phantom fully-performing events soften the factor for new resources (0 = none).
    """
    d = np.asarray(delivered, float)
    c = np.asarray(committed, float)
    keep = c > 0
    d, c = d[keep], c[keep]
    if c.size == 0:
        return 1.0
    avg_commit = c.mean()
    num = np.minimum(np.maximum(d, 0.0), c).sum() + prior_events * avg_commit
    den = c.sum() + prior_events * avg_commit
    return float(np.clip(num / den, 0.0, 1.0))


def reliability_factors(histories: Sequence[Sequence[tuple[float, float]]]) -> list[float]:
    """:func:`reliability_factor` (no prior events) of many histories at once, each a sequence of
    (delivered, committed) pairs: the same floats, bit for bit, as calling it on each.

    Histories with the same number of events with a commitment are stacked into one array and summed along
    their rows: numpy sums a row as it sums the one-dimensional array, so the figures are identical; the
    work is a few array operations per history length (at most ``PERFORMANCE_EVENTS`` + 1 of them), not per
    history."""
    out = [1.0] * len(histories)
    by_length: dict[int, tuple[list[int], list[float], list[float]]] = {}
    for i, history in enumerate(histories):
        kept = [(d, c) for d, c in history if c > 0]
        if not kept:
            continue
        rows, ds, cs = by_length.setdefault(len(kept), ([], [], []))
        rows.append(i)
        ds.extend(d for d, _ in kept)
        cs.extend(c for _, c in kept)
    for k, (rows, ds, cs) in by_length.items():
        d = np.asarray(ds, float).reshape(len(rows), k)
        c = np.asarray(cs, float).reshape(len(rows), k)
        num = np.minimum(np.maximum(d, 0.0), c).sum(axis=1)
        den = c.sum(axis=1)
        for i, f in zip(rows, np.clip(num / den, 0.0, 1.0).tolist(), strict=True):
            out[i] = f
    return out


def peak_shaving_kw(load_kw: np.ndarray, devices: Iterable[DeviceConstraint], *, peak_hours: float) -> float:
    """kW reducible in every interval of the peak window, given the expected load (kW) over the window."""
    load_kw = np.asarray(load_kw, float)
    if load_kw.size == 0:
        return 0.0
    total = np.zeros_like(load_kw)
    for dev in devices:
        if not dev.available:
            continue
        if dev.kind == "storage":
            energy = max(dev.soc - dev.min_soc, 0.0) * dev.energy_kwh
            total += min(dev.power_kw, energy / peak_hours if peak_hours > 0 else 0.0)
        else:
            total += np.minimum(load_kw * dev.share_of_load, dev.power_kw)
    return float(max(np.min(np.minimum(total, load_kw)), 0.0))


def load_shift_kwh(
    from_kw: np.ndarray,
    to_hours: float,
    devices: Iterable[DeviceConstraint],
    *,
    interval_hours: float,
    gap_hours: float,
) -> float:
    """kWh that can move out of the "from" window (expected load ``from_kw`` per interval) into a
    window of ``to_hours`` that starts ``gap_hours`` after the from-window ends.

    Deferrable/curtailable loads move their share of the load, up to their power in both windows, if
    the deferral fits ``max_shift_hours``; storage discharges in the from-window (power, usable energy)
    and must be able to recharge it in the to-window.
    """
    from_kw = np.asarray(from_kw, float)
    from_hours = from_kw.size * interval_hours
    moved = 0.0
    for dev in devices:
        if not dev.available:
            continue
        if dev.kind == "storage":
            usable = max(dev.soc - dev.min_soc, 0.0) * dev.energy_kwh
            moved += min(dev.power_kw * from_hours, usable, dev.power_kw * to_hours)
        elif dev.kind == "deferrable":
            if gap_hours + from_hours > dev.max_shift_hours:
                continue
            out = np.minimum(from_kw * dev.share_of_load, dev.power_kw).sum() * interval_hours
            moved += min(out, dev.power_kw * to_hours)
    return float(moved)


def availability_scores(
    load_kw: np.ndarray,
    hour_of_week: np.ndarray,
    *,
    flexible_share: float,
    device_factor: float = 1.0,
    reliability: float = 1.0,
) -> np.ndarray:
    """Curtailment availability score 0-100 for each of the 168 hours of the week.

    For each hour of week h, from the hourly load history (kW) observed at h:

    * *headroom* - the flexible load at h, ``flexible_share`` × mean load at h, relative to the largest
      such value over the week (0-1): there is more to curtail when more is running;
    * *consistency* - ``1 - min(CV, 1)`` of the load at h (CV = standard deviation / mean): a load that is
      always there at h can be counted on;
    * *device state* - ``device_factor`` (share of flexible device capacity online, 0-1) and the
      resource's ``reliability`` factor (0-1).

    score = 100 × (0.6 × headroom + 0.4 × consistency) × device_factor × reliability, rounded to an
    integer; hours never observed score 0.
    """
    load = np.asarray(load_kw, float)
    how = np.asarray(hour_of_week, np.int64)
    keep = np.isfinite(load)
    load, how = load[keep], how[keep]
    n = np.bincount(how, minlength=168).astype(float)
    s = np.bincount(how, weights=load, minlength=168)
    s2 = np.bincount(how, weights=load**2, minlength=168)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s / np.maximum(n, 1), 0.0)
        var = np.where(n > 1, np.maximum(s2 / np.maximum(n, 1) - mean**2, 0.0), 0.0)
        cv = np.where(mean > 0, np.sqrt(var) / mean, 1.0)
    flexible = flexible_share * mean
    headroom = flexible / flexible.max() if flexible.max() > 0 else np.zeros(168)
    consistency = 1.0 - np.minimum(cv, 1.0)
    score = 100.0 * (0.6 * headroom + 0.4 * consistency) * np.clip(device_factor, 0, 1) * np.clip(reliability, 0, 1)
    return np.where(n > 0, np.rint(score), 0).astype(int)


def season_of(day: date) -> str | None:
    """Meteorological seasons (northern hemisphere): winter = Dec-Feb, summer = Jun-Aug."""
    if day.month in (12, 1, 2):
        return "winter"
    if day.month in (6, 7, 8):
        return "summer"
    return None


def seasonal_profiles(
    hourly_kw: np.ndarray, days: Sequence[date], *, flexible_share: float, weekend: Sequence[bool]
) -> dict:
    """Mean flexible kW by hour of day for {winter, summer} × {weekday, weekend}.

    ``hourly_kw`` is ``(days, 24)``; profiles without data are omitted (a resource with only spring
    history has no seasonal profile yet).
    """
    hourly_kw = np.asarray(hourly_kw, float)
    out: dict[str, dict[str, list[float]]] = {}
    seasons = [season_of(d) for d in days]
    for season in ("winter", "summer"):
        for kind, want in (("weekday", False), ("weekend", True)):
            rows = [i for i, (s, w) in enumerate(zip(seasons, weekend, strict=True)) if s == season and bool(w) == want]
            if not rows:
                continue
            block = hourly_kw[rows]
            with np.errstate(invalid="ignore"):
                count = np.isfinite(block).sum(axis=0)
                mean = np.where(
                    count > 0, np.where(np.isfinite(block), block, 0).sum(axis=0) / np.maximum(count, 1), 0.0
                )
            out.setdefault(season, {})[kind] = [round(float(v) * flexible_share, 3) for v in mean]
    return out
