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
from typing import TYPE_CHECKING, TypedDict

import numpy as np
from scipy import sparse

from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover - highspy is imported lazily, where it is used
    import highspy

__all__ = ["DEFAULT_TIME_LIMIT_S", "METHODS", "MclpSolution", "greedy_mclp", "solve_mclp"]

log = logging.getLogger(__name__)

#: Default time limit of the integer program, seconds.
DEFAULT_TIME_LIMIT_S = 60.0

#: What :func:`solve_mclp` accepts as ``method``.
METHODS = ("auto", "milp", "greedy")


@dataclass
class MclpSolution:
    """Solution of a maximal covering problem over candidate columns.

    ``chosen``: candidate indices, in greedy order of their marginal gain within the chosen set (sites
    adding nothing are dropped); ``objective``: weight covered; ``bound``: a proven upper bound on the
    optimum (equal to ``objective`` when solved to optimality); ``gap`` = (bound - objective) / bound
    (0 when optimal); ``method``: what produced ``chosen``; ``solve_time_s``: seconds spent;
    ``lp_bound``: the LP relaxation; ``greedy_objective``: what the greedy heuristic covers (for
    comparison); ``n_groups``: rows of the aggregated model; ``n_variables``/``n_constraints``: size of
    the integer program.
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

    @classmethod
    def trivial(cls, method: str, solve_time_s: float = 0.0) -> MclpSolution:
        """Nothing to choose (no point to cover, or no candidate): an empty, optimal solution whose
        ``method`` says why."""
        return cls(
            chosen=[],
            objective=0.0,
            bound=0.0,
            gap=0.0,
            method=method,
            status="Optimal",
            solve_time_s=solve_time_s,
            lp_bound=0.0,
            greedy_objective=0.0,
            greedy_chosen=[],
            n_groups=0,
            n_variables=0,
            n_constraints=1,
            optimal=True,
        )


class _MilpRun(TypedDict):
    """What one HiGHS run of the integer program gives back (:func:`_run_milp`)."""

    status: str
    optimal: bool
    time_limit: bool
    x: np.ndarray | None
    objective: float
    dual_bound: float
    time_s: float
    nnz: int


@dataclass(frozen=True)
class _Model:
    """The aggregated covering model: point groups over the candidates that reach anyone.

    ``sets[g]``: local indices (0..n_cand-1) of the candidates covering group ``g``; ``w[g]``: its
    summed weight; ``cols[j]``: the original column of local candidate ``j``."""

    sets: list[np.ndarray]
    w: np.ndarray
    cols: np.ndarray

    @property
    def n_cand(self) -> int:
        return len(self.cols)

    @property
    def n_variables(self) -> int:
        return self.n_cand + len(self.sets)

    @property
    def n_constraints(self) -> int:
        return len(self.sets) + 1

    def back(self, chosen: Iterable[int]) -> list[int]:
        """Local candidate indices to original columns."""
        return [int(self.cols[j]) for j in chosen]


@dataclass(frozen=True)
class _Greedy:
    """The greedy choice (original columns) and the weight it covers."""

    chosen: list[int]
    objective: float


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


def _aggregate(A: sparse.csr_matrix, weights: np.ndarray) -> _Model | None:
    """The model over point groups and the candidates that reach anyone (renumbered locally), or None
    when no point with weight is reached by any candidate."""
    sets_all, w = _groups(A, weights)
    if not sets_all:
        return None
    cols = np.unique(np.concatenate(sets_all))
    local = np.full(A.shape[1], -1, dtype=np.int64)
    local[cols] = np.arange(len(cols))
    return _Model([local[s] for s in sets_all], w, cols)


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


def greedy_mclp(A: sparse.spmatrix | np.ndarray, weights: np.ndarray, k: int) -> tuple[list[int], float]:
    """Greedy maximal covering on a points x candidates boolean matrix: (chosen indices, covered weight)."""
    sets, w = _groups(sparse.csr_matrix(A), np.asarray(weights, float))
    return _greedy(sets, w, A.shape[1], k)


# --- HiGHS ----------------------------------------------------------------------------------------

_HIGHS_LOCK = threading.Lock()
_HIGHS_BANNER_DONE = False


def _stdout_fd() -> int:
    """The file descriptor behind ``sys.stdout`` (1 when it has none), flushed."""
    try:
        fd = sys.stdout.fileno() if hasattr(sys.stdout, "fileno") else 1
    except (OSError, ValueError):
        fd = 1
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    return fd


def _new_highs() -> highspy.Highs:
    """A silent :class:`highspy.Highs`. HiGHS prints its banner to the C-level stdout on the first
    construction in a process; that one time stdout is pointed at /dev/null, so a CLI's output (e.g.
    JSON on stdout) stays clean."""
    import highspy

    global _HIGHS_BANNER_DONE
    with _HIGHS_LOCK:
        if _HIGHS_BANNER_DONE:
            h = highspy.Highs()
        else:
            fd = _stdout_fd()
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


def _highs_model(
    sets: list[np.ndarray], w: np.ndarray, n_cand: int, k: int, integer: bool
) -> tuple[highspy.HighsLp, int]:
    """The covering program as a :class:`highspy.HighsLp` (columns: x_j then y_g) and its non-zeros."""
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


def _lp_bound(sets: list[np.ndarray], w: np.ndarray, n_cand: int, k: int) -> float | None:
    """The LP relaxation's optimum (an upper bound on the integer optimum), None if HiGHS fails."""
    import highspy

    h = _new_highs()
    lp, _ = _highs_model(sets, w, n_cand, k, integer=False)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return float(h.getInfo().objective_function_value)


def _run_milp(sets: list[np.ndarray], w: np.ndarray, n_cand: int, k: int, time_limit_s: float) -> _MilpRun:
    """Solve the integer program; returns status, objective, dual bound, x values and time (s)."""
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


# --- the chosen set -------------------------------------------------------------------------------


def _covered_weight(
    sets: list[np.ndarray] | sparse.csc_matrix, w: np.ndarray, chosen: Iterable[int]
) -> float:
    """Weight of the groups that any of ``chosen`` covers (``sets``: list of index arrays or the
    groups x candidates matrix)."""
    chosen = [int(j) for j in chosen]
    if not chosen or len(w) == 0:
        return 0.0
    G = sets if isinstance(sets, sparse.spmatrix) else _group_matrix(sets, max(chosen) + 1)
    hit = np.asarray(G[:, chosen].sum(axis=1)).ravel() > 0
    return float(w[hit].sum())


def _group_matrix(sets: list[np.ndarray], n_cand: int) -> sparse.csc_matrix:
    rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets]) if sets else np.zeros(0, np.int64)
    cols = np.concatenate(sets) if sets else np.zeros(0, np.int64)
    keep = cols < n_cand
    return sparse.csc_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(len(sets), n_cand))


def _order(sets: list[np.ndarray], w: np.ndarray, n_cand: int, chosen: Iterable[int]) -> list[int]:
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


def _gap(obj: float, bound: float) -> float:
    return 0.0 if bound <= 0 else max(0.0, (bound - obj) / bound)


# --- solve_mclp: check -> aggregate -> greedy -> (take all | greedy | MILP) -----------------------


def _check_problem(
    A: sparse.spmatrix | np.ndarray, weights: np.ndarray, k: int, method: str
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """``A`` as a boolean CSR matrix and ``weights`` as floats, or an :class:`InputError`."""
    if method not in METHODS:
        raise InputError(f"method must be auto, milp or greedy (got {method!r})")
    if not (isinstance(k, (int, np.integer)) and not isinstance(k, bool)) or k < 1:
        raise InputError(f"k must be a whole number >= 1 (got {k!r})")
    A_bool = sparse.csr_matrix(A, dtype=bool)
    w = np.asarray(weights, dtype=float)
    if A_bool.shape[0] != len(w):
        raise InputError(f"A has {A_bool.shape[0]} rows but {len(w)} weights")
    if (w < 0).any() or not np.isfinite(w).all():
        raise InputError("weights must be finite and >= 0")
    return A_bool, w


def _solution(
    model: _Model,
    greedy: _Greedy,
    lp_bound: float | None,
    t0: float,
    *,
    chosen: list[int],
    objective: float,
    bound: float,
    method: str,
    status: str,
    optimal: bool,
) -> MclpSolution:
    """An :class:`MclpSolution` of ``model`` (``chosen``: original columns; time since ``t0``)."""
    return MclpSolution(
        chosen=chosen,
        objective=objective,
        bound=bound,
        gap=_gap(objective, bound),
        method=method,
        status=status,
        solve_time_s=time.perf_counter() - t0,
        lp_bound=lp_bound,
        greedy_objective=greedy.objective,
        greedy_chosen=greedy.chosen,
        n_groups=len(model.sets),
        n_variables=model.n_variables,
        n_constraints=model.n_constraints,
        optimal=optimal,
    )


def _take_all(model: _Model, greedy: _Greedy, t0: float) -> MclpSolution:
    """``k`` >= the candidates that reach anyone: all of them, redundant ones dropped (optimal)."""
    chosen = model.back(_order(model.sets, model.w, model.n_cand, range(model.n_cand)))
    obj = float(model.w.sum())
    how = f"exact: k >= the {model.n_cand} candidates that reach anyone (all taken, redundant ones dropped)"
    return _solution(
        model,
        greedy,
        obj,
        t0,
        chosen=chosen,
        objective=obj,
        bound=obj,
        method=how,
        status="Optimal",
        optimal=True,
    )


def _greedy_only(model: _Model, greedy: _Greedy, lp_bound: float | None, t0: float) -> MclpSolution:
    """The greedy choice with its gap to the LP relaxation bound."""
    bound = lp_bound if lp_bound is not None else float(model.w.sum())
    bound = max(bound, greedy.objective)
    return _solution(
        model,
        greedy,
        lp_bound,
        t0,
        chosen=greedy.chosen,
        objective=greedy.objective,
        bound=bound,
        method="greedy",
        status="heuristic",
        optimal=bool(bound - greedy.objective <= 1e-9 * max(bound, 1.0)),
    )


def _milp_optimal(
    model: _Model, run: _MilpRun, x: np.ndarray, greedy: _Greedy, lp_bound: float | None, t0: float
) -> MclpSolution:
    """The MILP solved to optimality: its sites (redundant ones dropped) and HiGHS's bound."""
    chosen = _order(model.sets, model.w, model.n_cand, [int(j) for j in np.flatnonzero(x > 0.5)])
    obj = _covered_weight(model.sets, model.w, chosen)
    if obj < run["objective"] - 1e-6 * max(abs(run["objective"]), 1.0):
        log.warning("MILP objective %.6g but its sites cover %.6g", run["objective"], obj)
    bound = max(obj, run["dual_bound"]) if math.isfinite(run["dual_bound"]) else obj
    return _solution(
        model,
        greedy,
        lp_bound,
        t0,
        chosen=model.back(chosen),
        objective=obj,
        bound=bound,
        method="MILP (HiGHS)",
        status=run["status"],
        optimal=True,
    )


def _milp_stopped(
    model: _Model,
    run: _MilpRun,
    greedy: _Greedy,
    lp_bound: float | None,
    t0: float,
    *,
    method: str,
    time_limit_s: float,
) -> MclpSolution:
    """The MILP stopped early (time limit): HiGHS's incumbent, or with ``method='auto'`` the greedy
    choice when it covers at least as much; the gap is to the best bound known."""
    bounds = [b for b in (run["dual_bound"], lp_bound) if b is not None and math.isfinite(b)]
    bound = min(bounds) if bounds else float(model.w.sum())
    x = run["x"]
    inc = [int(j) for j in np.flatnonzero(x > 0.5)] if x is not None else []
    inc_obj = _covered_weight(model.sets, model.w, inc) if inc else 0.0
    if method == "milp":
        if x is None:
            raise InputError(f"MILP found no solution within {time_limit_s:g} s ({run['status']})")
        chosen, obj = model.back(_order(model.sets, model.w, model.n_cand, inc)), inc_obj
        how = f"MILP (HiGHS) incumbent, stopped: {run['status']}"
    elif inc_obj > greedy.objective:
        chosen, obj = model.back(_order(model.sets, model.w, model.n_cand, inc)), inc_obj
        how = f"MILP (HiGHS) incumbent after {run['status'].lower()} ({time_limit_s:g} s)"
    else:
        chosen, obj = list(greedy.chosen), greedy.objective
        how = f"greedy (MILP stopped: {run['status'].lower()} after {time_limit_s:g} s)"
    return _solution(
        model,
        greedy,
        lp_bound,
        t0,
        chosen=chosen,
        objective=obj,
        bound=max(bound, obj),
        method=how,
        status=run["status"],
        optimal=False,
    )


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

    ``method``: ``'auto'`` (MILP with HiGHS to optimality; on hitting ``time_limit_s`` seconds the
    better of HiGHS's incumbent and greedy, with its gap to the best bound), ``'milp'`` (the same, but
    never falling back) or ``'greedy'`` (greedy only, gap to the LP relaxation bound). Pure: the
    inputs are not modified.
    """
    A_bool, w_rows = _check_problem(A, weights, k, method)
    t0 = time.perf_counter()
    model = _aggregate(A_bool, w_rows)
    if model is None:
        return MclpSolution.trivial("trivial (no point can be newly covered)", time.perf_counter() - t0)
    greedy_local, greedy_obj = _greedy(model.sets, model.w, model.n_cand, k)
    greedy = _Greedy(model.back(greedy_local), greedy_obj)
    if k >= model.n_cand:  # every candidate that reaches anyone can be taken: optimal without a solver
        return _take_all(model, greedy, t0)
    lp_bound = _lp_bound(model.sets, model.w, model.n_cand, k)
    if method == "greedy":
        return _greedy_only(model, greedy, lp_bound, t0)
    run = _run_milp(model.sets, model.w, model.n_cand, k, time_limit_s)
    x = run["x"]
    if run["optimal"] and x is not None:
        return _milp_optimal(model, run, x, greedy, lp_bound, t0)
    return _milp_stopped(model, run, greedy, lp_bound, t0, method=method, time_limit_s=time_limit_s)
