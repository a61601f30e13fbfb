"""Disaggregation of a portfolio's award to its member resources, pro rata to their offered capacity.

Largest-remainder apportionment (Hamilton's method) in integer watts: each member gets the floor of its
pro-rata share, capped at what it still has open; the watts left over go one by one to the largest
fractional remainders (ties: lower member id first). The shares always sum exactly to the total.
"""

from __future__ import annotations


def pro_rata(total: int, members: list[tuple[int, int, int]]) -> dict[int, int]:
    """``members``: (member id, offered watts = weight, open watts = cap). Returns watts per member id."""
    if total <= 0:
        return {}
    if total > sum(cap for _, _, cap in members):
        raise ValueError("cannot allocate more than the members have open")
    alloc = {mid: 0 for mid, _, _ in members}
    left = total
    active = [(mid, w, cap) for mid, w, cap in members if cap > 0]
    while left > 0 and active:
        weight = sum(w for _, w, _ in active)
        shares = []
        for mid, w, cap in active:
            room = cap - alloc[mid]
            exact_num = left * w
            base = min(exact_num // weight, room)
            shares.append((mid, base, exact_num - base * weight if base < room else -1, room))
        given = 0
        for mid, base, _, _ in shares:
            alloc[mid] += base
            given += base
        left -= given
        for mid, _, rem, _ in sorted(shares, key=lambda s: (-s[2], s[0])):
            if left == 0:
                break
            if rem >= 0 and alloc[mid] < cap_of(active, mid):
                alloc[mid] += 1
                left -= 1
        active = [(mid, w, cap) for mid, w, cap in active if alloc[mid] < cap]
    return {mid: a for mid, a in alloc.items() if a > 0}


def cap_of(active: list[tuple[int, int, int]], mid: int) -> int:
    for m, _, cap in active:
        if m == mid:
            return cap
    return 0
