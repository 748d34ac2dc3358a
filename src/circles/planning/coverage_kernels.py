"""Compiled loops of the coverage table (:func:`circles.planning.coverage.coverage_rows`): per community,
the weighted lower median of the resident points' times and the facility serving most of its weight.

Plain loops compiled by numba (``cache=True``, ``nogil=True``, as in :mod:`circles.routing.kernels`),
imported where they are used. They replace pandas group-bys whose fixed cost dominated the rows of one
category (the cost of re-planning one edit) and compute the same numbers: weights are summed per group
in the same order with the same compensated (Kahan) summation pandas' ``groupby().sum()`` and
``groupby().cumsum()`` use, so a tie at an exact half split or between two facilities resolves as before.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def sorted_lower_median(group: np.ndarray, values: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Per group ``0..n-1``, the first value at which the group's cumulative weight reaches half its
    total; the group's first value when none does (all weights zero); NaN for an empty group.

    ``group``, ``values`` and ``weights`` are sorted by group, then value. Each group's running sum starts
    at its own first weight (compensated, as pandas' ``groupby().cumsum()``); weights are finite."""
    out = np.full(n, np.nan)
    cw = np.empty(len(group))
    m = len(group)
    start = 0
    while start < m:
        g = group[start]
        end = start
        accum = 0.0
        comp = 0.0
        while end < m and group[end] == g:
            y = weights[end] - comp
            t = accum + y
            comp = t - accum - y
            accum = t
            cw[end] = t
            end += 1
        half = cw[end - 1] / 2.0
        found = values[start]
        for i in range(start, end):
            if cw[i] >= half:
                found = values[i]
                break
        out[g] = found if found == found else values[start]
        start = end
    return out


@njit(cache=True, nogil=True)
def sorted_serving_facility(
    community: np.ndarray, facility: np.ndarray, weights: np.ndarray, first: np.ndarray, n: int
) -> np.ndarray:
    """Per community ``0..n-1``, the facility whose points carry the largest summed weight (-1: none);
    on a tie the pair (community, facility) that appears first (smallest ``first``).

    The points are sorted by (community, facility), stably: ``first`` is each point's position before
    sorting, so a pair's weights are summed in their original order (compensated, as pandas'
    ``groupby().sum()``) and its first point is its first appearance. Weights are finite."""
    best = np.full(n, -1, dtype=np.int64)
    best_w = np.zeros(n)
    best_first = np.zeros(n, dtype=np.int64)
    m = len(community)
    start = 0
    while start < m:
        c = community[start]
        f = facility[start]
        end = start
        total = 0.0
        comp = 0.0
        while end < m and community[end] == c and facility[end] == f:
            y = weights[end] - comp
            t = total + y
            comp = t - total - y
            if comp != comp:  # as pandas (GH 53606): an infinite sum stays infinite
                comp = 0.0
            total = t
            end += 1
        at = first[start]
        if best[c] < 0 or total > best_w[c] or (total == best_w[c] and at < best_first[c]):
            best[c] = f
            best_w[c] = total
            best_first[c] = at
        start = end
    return best
