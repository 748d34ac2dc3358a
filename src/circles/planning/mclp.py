"""The maximal covering location problem (MCLP) solver: :func:`solve_mclp` (HiGHS MILP, exact unless
the time limit is hit, with its gap to the best bound) and :func:`greedy_mclp` for comparison.

The integer program (HiGHS, :func:`solve_mclp`)::

    maximise   sum_g w_g y_g
    subject to y_g <= sum_{j covers g} x_j      for every point group g
               sum_j x_j <= k
               x_j in {0, 1},  0 <= y_g <= 1

where a *group* is the set of uncovered resident points that the same candidates reach (identical
columns of the coverage matrix are merged and their weights added; points no candidate reaches are
left out). ``y_g`` need not be declared integer: for integer ``x`` an optimal ``y_g`` is
``min(1, sum x_j)``, which is 0 or 1. The MILP is solved to optimality (relative gap 0) unless the
time limit is hit; then the better of HiGHS's incumbent and the greedy heuristic is returned with its
gap to the best bound (HiGHS's dual bound, or the LP relaxation). The greedy solution is always computed
too, for comparison.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..errors import InputError

log = logging.getLogger(__name__)

#: Default time limit of the integer program, seconds.
DEFAULT_TIME_LIMIT_S = 60.0


@dataclass
class MclpSolution:
    """Solution of a maximal covering problem over candidate columns.

    ``chosen``: candidate indices, in greedy order of their marginal gain within the chosen set (sites
    adding nothing are dropped); ``objective``: weight covered; ``bound``: a proven upper bound on the
    optimum (equal to ``objective`` when solved to optimality); ``gap`` = (bound - objective) / bound
    (0 when optimal); ``method``: what produced ``chosen``; ``lp_bound``: the LP relaxation;
    ``greedy_objective``: what the greedy heuristic covers (for comparison); ``n_groups``: rows of the
    aggregated model; ``n_variables``/``n_constraints``: size of the integer program.
    """

    chosen: list[int]
    objective: float
    bound: float
    gap: float
    method: str
    status: str
    solve_time_s: float
    lp_bound: float | None
    greedy_objective: float
    greedy_chosen: list[int]
    n_groups: int
    n_variables: int
    n_constraints: int
    optimal: bool


def _groups(A: sparse.csr_matrix, weights: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Merge rows of ``A`` (points x candidates, boolean) that have the same set of covering candidates;
    rows covered by none are dropped. Returns (candidate index arrays, summed weights)."""
    A = sparse.csr_matrix(A, dtype=bool)
    A.sort_indices()
    acc: dict[bytes, int] = {}
    sets: list[np.ndarray] = []
    w: list[float] = []
    for i in range(A.shape[0]):
        cols = A.indices[A.indptr[i] : A.indptr[i + 1]]
        if len(cols) == 0 or not weights[i] > 0:
            continue
        key = cols.astype(np.int64).tobytes()
        g = acc.get(key)
        if g is None:
            acc[key] = len(sets)
            sets.append(cols.astype(np.int64))
            w.append(float(weights[i]))
        else:
            w[g] += float(weights[i])
    return sets, np.asarray(w, dtype=float)


def _greedy(
    sets: list[np.ndarray], w: np.ndarray, n_cand: int, k: int, allowed: Sequence[int] | None = None
) -> tuple[list[int], float]:
    """Greedy: repeatedly add the candidate with the largest newly covered weight (ties: lowest index)
    until ``k`` are chosen or nothing more is gained."""
    members: list[list[int]] = [[] for _ in range(n_cand)]
    for g, s in enumerate(sets):
        for j in s:
            members[int(j)].append(g)
    gain = np.array([w[m].sum() if m else 0.0 for m in members])
    if allowed is not None:
        mask = np.zeros(n_cand, bool)
        mask[list(allowed)] = True
        gain = np.where(mask, gain, -np.inf)
    covered = np.zeros(len(sets), bool)
    chosen: list[int] = []
    total = 0.0
    tol = 1e-12 * max(float(w.sum()), 1.0)
    while len(chosen) < k:
        j = int(np.argmax(gain))
        if not gain[j] > tol:
            break
        chosen.append(j)
        total += float(gain[j])
        gain[j] = -np.inf
        newly = [g for g in members[j] if not covered[g]]
        covered[newly] = True
        for g in newly:
            for jj in sets[g]:
                if np.isfinite(gain[jj]):
                    gain[jj] -= w[g]
    return chosen, total


def greedy_mclp(A: sparse.spmatrix, weights: np.ndarray, k: int) -> tuple[list[int], float]:
    """Greedy maximal covering on a points x candidates boolean matrix: (chosen indices, covered weight)."""
    sets, w = _groups(sparse.csr_matrix(A), np.asarray(weights, float))
    return _greedy(sets, w, A.shape[1], k)


_HIGHS_LOCK = threading.Lock()
_HIGHS_BANNER_DONE = False


def _new_highs():
    """A silent :class:`highspy.Highs`. HiGHS prints its banner to the C-level stdout on the first
    construction in a process; that one time stdout is pointed at /dev/null, so a CLI's output (e.g.
    JSON on stdout) stays clean."""
    import highspy

    global _HIGHS_BANNER_DONE
    with _HIGHS_LOCK:
        if _HIGHS_BANNER_DONE:
            h = highspy.Highs()
        else:
            try:
                fd = sys.stdout.fileno() if hasattr(sys.stdout, "fileno") else 1
            except (OSError, ValueError):
                fd = 1
            try:
                sys.stdout.flush()
            except (OSError, ValueError):
                pass
            saved = os.dup(fd)
            try:
                with open(os.devnull, "w") as null:
                    os.dup2(null.fileno(), fd)
                    try:
                        h = highspy.Highs()
                    finally:
                        os.dup2(saved, fd)
            finally:
                os.close(saved)
            _HIGHS_BANNER_DONE = True
    h.setOptionValue("output_flag", False)
    return h


def _highs_model(sets: list[np.ndarray], w: np.ndarray, n_cand: int, k: int, integer: bool):
    import highspy

    ng = len(sets)
    lp = highspy.HighsLp()
    lp.num_col_ = n_cand + ng
    lp.num_row_ = ng + 1
    lp.col_cost_ = np.concatenate([np.zeros(n_cand), w])
    lp.col_lower_ = np.zeros(n_cand + ng)
    lp.col_upper_ = np.ones(n_cand + ng)
    lp.row_lower_ = np.full(ng + 1, -highspy.kHighsInf)
    lp.row_upper_ = np.concatenate([np.zeros(ng), [float(k)]])
    # row-wise: row g = y_g - sum_{j in S_g} x_j <= 0; last row sum_j x_j <= k
    starts, index, value = [0], [], []
    for g, s in enumerate(sets):
        index.extend([n_cand + g, *s.tolist()])
        value.extend([1.0] + [-1.0] * len(s))
        starts.append(len(index))
    index.extend(range(n_cand))
    value.extend([1.0] * n_cand)
    starts.append(len(index))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = n_cand + ng
    lp.a_matrix_.num_row_ = ng + 1
    lp.a_matrix_.start_ = np.asarray(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.asarray(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.asarray(value, dtype=float)
    lp.sense_ = highspy.ObjSense.kMaximize
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n_cand + [highspy.HighsVarType.kContinuous] * ng
    return lp, len(index)


def _lp_bound(sets, w, n_cand, k) -> float | None:
    import highspy

    h = _new_highs()
    lp, _ = _highs_model(sets, w, n_cand, k, integer=False)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return float(h.getInfo().objective_function_value)


def _run_milp(sets, w, n_cand, k, time_limit_s: float) -> dict:
    """Solve the integer program; returns status, objective, dual bound, x values and time."""
    import highspy

    h = _new_highs()
    lp, nnz = _highs_model(sets, w, n_cand, k, integer=True)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 1e-9 * max(float(w.sum()), 1.0))
    h.setOptionValue("random_seed", 0)
    if h.passModel(lp) == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS rejected the covering model")
    t = time.perf_counter()
    run_status = h.run()
    elapsed = time.perf_counter() - t
    if run_status == highspy.HighsStatus.kError:
        log.warning("HiGHS run failed (%s)", h.modelStatusToString(h.getModelStatus()))
    st = h.getModelStatus()
    info = h.getInfo()
    x = None
    if info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible:
        x = np.asarray(h.getSolution().col_value[:n_cand], dtype=float)
    return {
        "status": h.modelStatusToString(st),
        "optimal": st == highspy.HighsModelStatus.kOptimal,
        "time_limit": st == highspy.HighsModelStatus.kTimeLimit,
        "x": x,
        "objective": float(info.objective_function_value) if x is not None else float("nan"),
        "dual_bound": float(info.mip_dual_bound),
        "time_s": elapsed,
        "nnz": nnz,
    }


def _covered_weight(sets, w, chosen) -> float:
    """Weight of the groups that any of ``chosen`` covers (``sets``: list of index arrays or the
    groups x candidates matrix)."""
    chosen = [int(j) for j in chosen]
    if not chosen or len(w) == 0:
        return 0.0
    G = sets if sparse.issparse(sets) else _group_matrix(sets, max(chosen) + 1)
    hit = np.asarray(G[:, chosen].sum(axis=1)).ravel() > 0
    return float(w[hit].sum())


def _group_matrix(sets: list[np.ndarray], n_cand: int) -> sparse.csc_matrix:
    rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets]) if sets else np.zeros(0, np.int64)
    cols = np.concatenate(sets) if sets else np.zeros(0, np.int64)
    keep = cols < n_cand
    return sparse.csc_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(len(sets), n_cand))


def _order(sets, w, n_cand, chosen) -> list[int]:
    """The chosen candidates without redundant ones (a site whose removal loses nothing is dropped,
    smallest standalone cover first), in greedy order of marginal gain among themselves."""
    chosen = [int(j) for j in chosen]
    if not chosen:
        return []
    G = _group_matrix(sets, n_cand)
    full = _covered_weight(G, w, chosen)
    tol = 1e-9 * max(full, 1.0)
    alone = {j: _covered_weight(G, w, [j]) for j in chosen}
    keep = list(chosen)
    for j in sorted(chosen, key=lambda j: (alone[j], j)):
        rest = [i for i in keep if i != j]
        if _covered_weight(G, w, rest) >= full - tol:
            keep = rest
    order, _ = _greedy(sets, w, n_cand, len(keep), allowed=keep)
    return order


def solve_mclp(
    A: sparse.spmatrix | np.ndarray,
    weights: np.ndarray,
    k: int,
    *,
    method: str = "auto",
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> MclpSolution:
    """Choose at most ``k`` columns of the boolean points x candidates matrix ``A`` covering the largest
    total ``weights`` of rows (a row is covered when any chosen column covers it).

    ``method``: ``'auto'`` (MILP with HiGHS to optimality; on hitting ``time_limit_s`` the better of
    HiGHS's incumbent and greedy, with its gap to the best bound), ``'milp'`` (the same, but never
    falling back) or ``'greedy'`` (greedy only, gap to the LP relaxation bound).
    """
    if method not in ("auto", "milp", "greedy"):
        raise InputError(f"method must be auto, milp or greedy (got {method!r})")
    if not (isinstance(k, (int, np.integer)) and not isinstance(k, bool)) or k < 1:
        raise InputError(f"k must be a whole number >= 1 (got {k!r})")
    A = sparse.csr_matrix(A, dtype=bool)
    weights = np.asarray(weights, dtype=float)
    if A.shape[0] != len(weights):
        raise InputError(f"A has {A.shape[0]} rows but {len(weights)} weights")
    if (weights < 0).any() or not np.isfinite(weights).all():
        raise InputError("weights must be finite and >= 0")
    n_all = A.shape[1]
    t0 = time.perf_counter()
    sets_all, w = _groups(A, weights)
    if not sets_all:
        return MclpSolution(
            [],
            0.0,
            0.0,
            0.0,
            "trivial (no point can be newly covered)",
            "Optimal",
            time.perf_counter() - t0,
            0.0,
            0.0,
            [],
            0,
            0,
            1,
            True,
        )
    # only candidates that reach someone enter the model (local indices 0..n_cand-1)
    cols = np.unique(np.concatenate(sets_all))
    local = np.full(n_all, -1, dtype=np.int64)
    local[cols] = np.arange(len(cols))
    sets = [local[s] for s in sets_all]
    n_cand = len(cols)
    n_var, n_con = n_cand + len(sets), len(sets) + 1

    def back(chosen: Iterable[int]) -> list[int]:
        return [int(cols[j]) for j in chosen]

    greedy_local, greedy_obj = _greedy(sets, w, n_cand, k)
    greedy_chosen = back(greedy_local)
    if k >= n_cand:  # every candidate that reaches anyone can be taken: optimal without a solver
        chosen = back(_order(sets, w, n_cand, range(n_cand)))
        obj = float(w.sum())
        return MclpSolution(
            chosen,
            obj,
            obj,
            0.0,
            f"exact: k >= the {n_cand} candidates that reach anyone (all taken, redundant ones dropped)",
            "Optimal",
            time.perf_counter() - t0,
            obj,
            greedy_obj,
            greedy_chosen,
            len(sets),
            n_var,
            n_con,
            True,
        )
    lp_bound = _lp_bound(sets, w, n_cand, k)
    if method == "greedy":
        bound = lp_bound if lp_bound is not None else float(w.sum())
        bound = max(bound, greedy_obj)
        return MclpSolution(
            greedy_chosen,
            greedy_obj,
            bound,
            _gap(greedy_obj, bound),
            "greedy",
            "heuristic",
            time.perf_counter() - t0,
            lp_bound,
            greedy_obj,
            greedy_chosen,
            len(sets),
            n_var,
            n_con,
            bool(bound - greedy_obj <= 1e-9 * max(bound, 1.0)),
        )
    res = _run_milp(sets, w, n_cand, k, time_limit_s)
    if res["optimal"] and res["x"] is not None:
        chosen = _order(sets, w, n_cand, [int(j) for j in np.flatnonzero(res["x"] > 0.5)])
        obj = _covered_weight(sets, w, chosen)
        if obj < res["objective"] - 1e-6 * max(abs(res["objective"]), 1.0):
            log.warning("MILP objective %.6g but its sites cover %.6g", res["objective"], obj)
        bound = max(obj, res["dual_bound"]) if math.isfinite(res["dual_bound"]) else obj
        return MclpSolution(
            back(chosen),
            obj,
            bound,
            _gap(obj, bound),
            "MILP (HiGHS)",
            res["status"],
            time.perf_counter() - t0,
            lp_bound,
            greedy_obj,
            greedy_chosen,
            len(sets),
            n_var,
            n_con,
            True,
        )
    bounds = [b for b in (res["dual_bound"], lp_bound) if b is not None and math.isfinite(b)]
    bound = min(bounds) if bounds else float(w.sum())
    inc = [int(j) for j in np.flatnonzero(res["x"] > 0.5)] if res["x"] is not None else []
    inc_obj = _covered_weight(sets, w, inc) if inc else 0.0
    if method == "milp":
        if res["x"] is None:
            raise InputError(f"MILP found no solution within {time_limit_s:g} s ({res['status']})")
        chosen, obj, how = (
            back(_order(sets, w, n_cand, inc)),
            inc_obj,
            f"MILP (HiGHS) incumbent, stopped: {res['status']}",
        )
    elif inc_obj > greedy_obj:
        chosen, obj = back(_order(sets, w, n_cand, inc)), inc_obj
        how = f"MILP (HiGHS) incumbent after {res['status'].lower()} ({time_limit_s:g} s)"
    else:
        chosen, obj = list(greedy_chosen), greedy_obj
        how = f"greedy (MILP stopped: {res['status'].lower()} after {time_limit_s:g} s)"
    bound = max(bound, obj)
    return MclpSolution(
        chosen,
        obj,
        bound,
        _gap(obj, bound),
        how,
        res["status"],
        time.perf_counter() - t0,
        lp_bound,
        greedy_obj,
        greedy_chosen,
        len(sets),
        n_var,
        n_con,
        False,
    )


def _gap(obj: float, bound: float) -> float:
    return 0.0 if bound <= 0 else max(0.0, (bound - obj) / bound)


# --- the coverage matrix on the network ---------------------------------------------------------
