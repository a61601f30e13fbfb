"""Energy arbitrage for a battery or an EV: the cost-optimal charge/discharge schedule over a price curve.

Linear program (solved with HiGHS through ``scipy.optimize.linprog(method="highs")``), intervals t of
length h hours, prices p_t ($/MWh):

    minimise   sum_t p_t * (c_t - d_t) * h / 1000                    (cost of energy bought minus sold, $)
    subject to e_t = e_{t-1} + eta_c * c_t * h - d_t * h / eta_d      (state of energy, kWh)
               0 <= e_t <= capacity_kwh,  0 <= c_t <= max_charge_kw,  0 <= d_t <= max_discharge_kw
               e_T >= target_kwh at the deadline (EV: energy needed at departure; battery: end no emptier)
               c_t = d_t = 0 after the deadline

An EV that cannot export sets ``max_discharge_kw = 0``: its flexibility is *when* it charges. The schedule
becomes offers through :func:`offers_from_schedule`: for each interval, the kW by which the optimal schedule
lowers grid import below the device's unmanaged plan (charge as soon as plugged in, the default behaviour of
EV chargers) is offered as energy flexibility, at the interval's forecast price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog


@dataclass(frozen=True)
class Device:
    capacity_kwh: float
    max_charge_kw: float
    max_discharge_kw: float
    efficiency_charge: float = 0.95
    efficiency_discharge: float = 0.95
    initial_kwh: float = 0.0
    target_kwh: float = 0.0
    deadline_index: int | None = None  # the schedule must reach target_kwh by the end of this interval


@dataclass(frozen=True)
class Schedule:
    charge_kw: np.ndarray
    discharge_kw: np.ndarray
    energy_kwh: np.ndarray
    cost: float


class Infeasible(ValueError):
    pass


def optimise(*, prices_per_mwh: list[float], device: Device, interval_hours: float) -> Schedule:
    p = np.asarray(prices_per_mwh, dtype=float)
    n = len(p)
    h = interval_hours
    deadline = n - 1 if device.deadline_index is None else device.deadline_index
    # variables x = [c_0..c_{n-1}, d_0..d_{n-1}]; e_t = e0 + sum_{k<=t} (eta_c h c_k - h/eta_d d_k)
    cost = np.r_[p * h / 1000, -p * h / 1000]
    lower = np.tril(np.ones((n, n)))
    a_energy = np.hstack([lower * device.efficiency_charge * h, -lower * h / device.efficiency_discharge])
    a_ub = np.vstack([a_energy, -a_energy, -a_energy[deadline : deadline + 1]])
    b_ub = np.r_[
        np.full(n, device.capacity_kwh - device.initial_kwh),
        np.full(n, device.initial_kwh),
        [device.initial_kwh - device.target_kwh],
    ]
    bounds = [(0, device.max_charge_kw if t <= deadline else 0) for t in range(n)] + [
        (0, device.max_discharge_kw if t <= deadline else 0) for t in range(n)
    ]
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:
        raise Infeasible(res.message)
    c, d = res.x[:n], res.x[n:]
    # Simultaneous charge and discharge is never cheaper with losses; net them out for a clean schedule.
    net = c - d
    c, d = np.clip(net, 0, None), np.clip(-net, 0, None)
    energy = device.initial_kwh + np.cumsum(device.efficiency_charge * h * c - h * d / device.efficiency_discharge)
    return Schedule(c, d, energy, float(res.fun))


def unmanaged_charge_kw(*, device: Device, n: int, interval_hours: float) -> np.ndarray:
    """Charge at full power from the start until the target is reached (how a charger behaves unmanaged)."""
    out = np.zeros(n)
    e = device.initial_kwh
    for t in range(n):
        need = max(device.target_kwh - e, 0) / (device.efficiency_charge * interval_hours)
        out[t] = min(device.max_charge_kw, need)
        e += out[t] * device.efficiency_charge * interval_hours
    return out


def offers_from_schedule(
    *, schedule: Schedule, unmanaged_kw: np.ndarray, prices_per_mwh: list[float], min_kw: float = 0.001
) -> list[tuple[int, float, float]]:
    """(interval index, kW of import reduction vs. unmanaged, limit price $/MWh) for every interval where the
    optimal schedule imports less than the unmanaged plan (discharging counts as a reduction too)."""
    reduction = unmanaged_kw - schedule.charge_kw + schedule.discharge_kw
    return [(t, float(r), float(prices_per_mwh[t])) for t, r in enumerate(reduction) if r >= min_kw]
