"""Is a file's declared coordinate system right? Checks of WGS84 / GCJ-02 (高德/腾讯) / BD-09 (百度)
mix-ups against reference data known to be WGS84 (:mod:`circles.io.crs_reference`: streets, buildings,
residential areas and facilities of OpenStreetMap).

GCJ-02 numbers read as WGS84 land ~360 m off in Chengdu and BD-09 numbers ~950 m: more than a 5-minute
walk. :func:`assess_crs` reads a file's numbers as each of the three systems and asks, per kind of
evidence, how many of its distinct places sit on mapped features in each reading, and how many a random
shift of 250-1,200 m puts there (the null: a genuine WGS84 file of random points fits some shifted
reading by chance as often as it fits any other shift). It speaks only when one reading beats both the
declared reading and that null clearly, and refuses only when the margin is overwhelming.

Typical use, once per region and then per input file::

    ref = crs_reference_from_osm(region.osm_path, net, walk_graph, facilities=osm_facilities_gdf)
    verdict = assess_crs(gdf, "wgs84", ref, categories=gdf["category"], names=gdf["name"], label=path.name)
    verdict.raise_if_refused()          # unless the user passed --no-crs-check
    if verdict.status != "ok": warn(verdict.message)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely
from scipy.special import bdtrc

from ..errors import CoordinateSystemError
from .coords import (
    CRS_LABELS,
    normalise_crs_name,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from .crs_median_check import (
    check_crs_by_osm_matches,
    check_declared_crs,
    detect_bd09_shift,
    detect_gcj02_shift,
)
from .crs_reference import (
    DESCRIPTIONS,
    NEAR_M,
    CrsReference,
    build_crs_reference,
    crs_reference_from_osm,
    geometry_array,
    read_reference_areas,
)

__all__ = [
    "READINGS",
    "CrsEvidence",
    "CrsReference",
    "CrsVerdict",
    "assess_crs",
    "build_crs_reference",
    "check_crs_by_osm_matches",
    "check_declared_crs",
    "crs_reference_from_osm",
    "detect_bd09_shift",
    "detect_gcj02_shift",
    "null_shifts",
    "read_reference_areas",
]

log = logging.getLogger(__name__)

#: The lon/lat systems a file's numbers are read as.
READINGS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")
#: Points in the same cell of this size (m) are one place: repeats and near-repeats count once.
PLACE_M = 10.0
#: Fewer distinct places than this: unverifiable. Fewer than MIN_PLACES_REFUSE: at most suspect.
MIN_PLACES, MIN_PLACES_REFUSE = 5, 10
#: Places (points) or polygons evaluated at most; more are sampled deterministically.
MAX_PLACES, MAX_POLYGONS = 500, 100
#: The null: N_SHIFTS shifts of the declared reading, lengths spread over NULL_SHIFT_M (m), golden-angle
#: directions. They span the GCJ-02 (~360 m), BD-09 (~950 m) and BD-09 - GCJ-02 (~700 m) offsets.
N_SHIFTS, NULL_SHIFT_M = 48, (250.0, 1200.0)
#: A reading is favoured by a kind of evidence when its score is Z_SUSPECT null deviations above the null
#: mean, and Z_GAP deviations and MIN_HITS hits above the declared reading's score; favoured enough to
#: refuse at Z_REFUSE, Z_GAP_REFUSE and MIN_HITS_REFUSE.
Z_SUSPECT, Z_GAP, MIN_HITS = 4.0, 3.0, 3.0
Z_REFUSE, Z_GAP_REFUSE, MIN_HITS_REFUSE = 8.0, 5.0, 5.0
#: Smallest null standard deviation (hits): one lucky hit never counts as more than 2 deviations.
SD_FLOOR = 0.5
#: For 0/1 evidence the hits must also be this unlikely at the null rate (binomial tail; the null mean is
#: taken as at least NULL_MEAN_FLOOR hits: 3 in N_SHIFTS shifts). About 10 tests are made per file.
P_SUSPECT, P_REFUSE = 1e-5, 1e-9
NULL_MEAN_FLOOR = 3.0 / N_SHIFTS
#: Evidence that may refuse on its own. Streets may not: a shift along a long straight street keeps
#: its points on it, so street evidence needs a second kind beside it.
SPECIFIC_KINDS = frozenset({"building", "residential", "facility", "poi", "name", "area"})
#: Evidence scored as a share per unit (0..1) rather than a hit (0/1).
SHARE_KINDS = frozenset({"edge"})

Status = Literal["ok", "unverifiable", "suspect", "refuse"]
_FORWARD: dict[str, Callable[[Any, Any], tuple[np.ndarray, np.ndarray]]] = {
    "wgs84": lambda x, y: (np.asarray(x, float), np.asarray(y, float)),
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}


# --- the verdict ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrsEvidence:
    """One kind of evidence: how many of ``n_units`` places (or polygons) fit mapped features in each
    reading (``score``: hits, or for non-``binary`` kinds the summed per-polygon share), and the mean and
    standard deviation of that score over random shifts of the declared reading (the null)."""

    kind: str
    description: str
    binary: bool
    n_units: int
    score: Mapping[str, float]
    null_mean: float
    null_sd: float
    #: per reading, the score of the units that fit better in it than as declared (hits only it has)
    exclusive: Mapping[str, float] = field(default_factory=dict)

    def z(self, reading: str) -> float:
        """Score of ``reading`` above the null mean, in null standard deviations."""
        return (self.score[reading] - self.null_mean) / self.null_sd

    def tail_p(self, reading: str, hits: float | None = None) -> float:
        """Chance of at least ``hits`` (default: the reading's score) if each unit hit at the null rate
        (binomial); 1.0 for shares."""
        if not self.binary or self.n_units == 0:
            return 1.0
        rate = min(max(self.null_mean, NULL_MEAN_FLOOR) / self.n_units, 1.0)
        return float(bdtrc(round(self.score[reading] if hits is None else hits) - 1, self.n_units, rate))

    def count_value(self, score: float) -> str:
        """``score`` as text: '12 of 40' (hits, the null mean to one decimal) or '35 %' (mean share)."""
        if self.binary:
            return f"{score:.0f} of {self.n_units}" if score == round(score) else f"{score:.1f}"
        return f"{100 * score / max(self.n_units, 1):.0f} %"

    def null_text(self) -> str:
        """The null mean as text: '0.4' (hits) or '35 %' (mean share)."""
        return f"{self.null_mean:.1f}" if self.binary else self.count_value(self.null_mean)

    def count(self, reading: str) -> str:
        return self.count_value(self.score[reading])

    def phrase(self, reading: str, unit: str) -> str:
        if self.binary:
            return f"{self.count(reading)} {unit} {self.description}"
        return f"{self.description}: {self.count(reading)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "n": self.n_units,
            "score": {k: round(float(v), 3) for k, v in self.score.items()},
            "null_mean": round(self.null_mean, 3),
            "null_sd": round(self.null_sd, 3),
            "z": {k: round(self.z(k), 2) for k in self.score},
            "tail_p": {k: float(f"{self.tail_p(k):.3g}") for k in self.score},
        }


@dataclass(frozen=True)
class CrsVerdict:
    """What :func:`assess_crs` concluded.

    ``status``: ``ok`` (the declared reading fits best, or no reading fits better than chance),
    ``unverifiable`` (too few distinct places, or nothing mapped near them: the message says which),
    ``suspect`` (``alternative`` fits clearly better: warn) or ``refuse`` (overwhelmingly better: stop
    unless the user passes ``--no-crs-check``). ``message`` states the evidence; ``fix`` the remedy.
    Counts: rows given, distinct places (10 m cells / distinct polygons), places evaluated (a sample
    beyond :data:`MAX_PLACES`), places with a mapped feature within :data:`NEAR_M`.
    """

    status: Status
    declared: str
    message: str
    alternative: str | None = None
    fix: str = ""
    n_rows: int = 0
    n_places: int = 0
    n_evaluated: int = 0
    n_near: int = 0
    evidence: tuple[CrsEvidence, ...] = ()

    @property
    def caught(self) -> bool:
        """True for ``suspect`` and ``refuse``."""
        return self.status in ("suspect", "refuse")

    def raise_if_refused(self) -> None:
        """Raise :class:`CoordinateSystemError` with the message when the status is ``refuse``."""
        if self.status == "refuse":
            raise CoordinateSystemError(self.message)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the API and the plan summary)."""
        return {
            "status": self.status,
            "declared": self.declared,
            "alternative": self.alternative,
            "message": self.message,
            "fix": self.fix,
            "n_rows": self.n_rows,
            "n_places": self.n_places,
            "n_evaluated": self.n_evaluated,
            "n_near": self.n_near,
            "evidence": [e.as_dict() for e in self.evidence],
        }


# --- evidence -------------------------------------------------------------------------------------


def null_shifts(n: int = N_SHIFTS) -> np.ndarray:
    """The null's shift vectors (m), shape (n, 2): lengths evenly spread over :data:`NULL_SHIFT_M`,
    golden-angle directions. Deterministic: a verdict never depends on a random draw."""
    i = np.arange(n)
    lo, hi = NULL_SHIFT_M
    r = lo + (hi - lo) * (i + 0.5) / n
    a = i * math.pi * (3.0 - math.sqrt(5.0))
    return np.column_stack([r * np.cos(a), r * np.sin(a)])


def _translate(polys: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Every polygon moved by every shift: shape (len(shifts) * len(polys),), shift-major."""
    tiled = np.tile(polys, len(shifts))
    _, owner = shapely.get_coordinates(tiled, return_index=True)
    offset = np.repeat(shifts, len(polys), axis=0)[owner]
    return np.asarray(shapely.transform(tiled, lambda c: c + offset), dtype=object)


def _evidence(kind: str, applies: np.ndarray, scores: np.ndarray, declared: str) -> CrsEvidence:
    """Totals per reading (the first rows of ``scores``, in :data:`READINGS` order) against the shifted
    rows (the null)."""
    n_read = len(READINGS)
    total = scores[:, applies].sum(axis=1)
    better = np.clip(scores[:n_read, applies] - scores[READINGS.index(declared), applies], 0.0, None)
    null = total[n_read:]
    n = int(applies.sum())
    mean = float(null.mean())
    sd = float(null.std(ddof=1)) if len(null) > 1 else 0.0
    binary = kind not in SHARE_KINDS
    if binary:  # at least the spread of independent places hitting at the null rate
        sd = max(sd, math.sqrt(max(mean * (1.0 - mean / max(n, 1)), 0.0)))
    return CrsEvidence(
        kind,
        DESCRIPTIONS[kind],
        binary,
        n,
        dict(zip(READINGS, (float(v) for v in total[:n_read]))),
        mean,
        max(sd, SD_FLOOR),
        dict(zip(READINGS, (float(v) for v in better.sum(axis=1)))),
    )


# --- the decision ---------------------------------------------------------------------------------


def _favours(e: CrsEvidence, a: str, b: str, *, refuse: bool = False) -> bool:
    """Does ``e`` favour reading ``a`` over ``b`` (for a suspicion, or for a refusal)?"""
    z_min, gap, hits, p_max = (
        (Z_REFUSE, Z_GAP_REFUSE, MIN_HITS_REFUSE, P_REFUSE)
        if refuse
        else (Z_SUSPECT, Z_GAP, MIN_HITS, P_SUSPECT)
    )
    diff = e.score[a] - e.score[b]
    enough = diff >= hits if e.binary else diff >= 0.05 * hits * e.n_units  # shares: 15 / 100 polygons
    return e.z(a) >= z_min and diff / e.null_sd >= gap and enough and e.tail_p(a) <= p_max


#: (status, the alternative reading or None, the evidence favouring it, whether the file looks mixed)
Judgement = tuple[Status, str | None, list[CrsEvidence], bool]


def _judge(evidence: list[CrsEvidence], declared: str, n_eval: int) -> Judgement:
    """The status, the best alternative reading and the evidence favouring it.

    An alternative is suspect when some kind of evidence favours it over the declared reading (see
    :func:`_favours`); the one with the highest z wins. It is refused when there are at least
    :data:`MIN_PLACES_REFUSE` places, no kind favours the declared reading instead, and a kind favours it
    at the refusal level: a specific kind (:data:`SPECIFIC_KINDS`), or streets with a second kind.
    """
    best: tuple[float, str, list[CrsEvidence]] | None = None
    for alt in READINGS:
        support = [e for e in evidence if alt != declared and _favours(e, alt, declared)]
        if support and (best is None or max(e.z(alt) for e in support) > best[0]):
            best = (max(e.z(alt) for e in support), alt, support)
    if best is None:
        return _mixed(evidence, declared)
    _, alt, support = best
    support.sort(key=lambda e: -e.z(alt))
    contra = any(_favours(e, declared, alt) for e in evidence)
    strong = [e for e in support if _favours(e, alt, declared, refuse=True)]
    overwhelming = any(e.kind in SPECIFIC_KINDS for e in strong) or (bool(strong) and len(support) >= 2)
    if n_eval >= MIN_PLACES_REFUSE and overwhelming and not contra:
        return "refuse", alt, support, False
    return "suspect", alt, support, False


def _mixed(evidence: list[CrsEvidence], declared: str) -> Judgement:
    """``suspect`` when a specific kind of evidence finds, beside the places that fit as declared,
    enough places that fit only in another reading (a file mixing two systems); else ``ok``."""

    def only(e: CrsEvidence, alt: str) -> bool:
        x = e.exclusive.get(alt, 0.0)
        z = (x - e.null_mean) / e.null_sd
        return (
            e.binary
            and e.kind in SPECIFIC_KINDS
            and x >= MIN_HITS
            and z >= Z_SUSPECT
            and (e.tail_p(alt, x) <= P_SUSPECT)
        )

    for alt in READINGS:
        support = [e for e in evidence if alt != declared and only(e, alt)]
        if support:
            return "suspect", alt, support, True
    return "ok", None, [], False


def _short(reading: str) -> str:
    return CRS_LABELS[reading].split(" ")[0]


def _ok_text(declared: str, shown: list[CrsEvidence], unit: str, where: str) -> str:
    """The message of an ``ok`` verdict: what confirms the declared reading, or that nothing fits."""
    fits = [e for e in shown if e.z(declared) >= Z_SUSPECT]
    null = ", ".join(e.null_text() for e in (fits or shown))
    shifts = f"random shifts of {NULL_SHIFT_M[0]:.0f}-{NULL_SHIFT_M[1]:.0f} m give {null} on average"
    if fits:
        said = "; ".join(e.phrase(declared, unit) for e in fits)
        return f"{where}{_short(declared)} as declared fits: {said} ({shifts})."
    said = "; ".join(
        f"{e.description}: " + ", ".join(f"{e.count(r)} as {_short(r)}" for r in READINGS) for e in shown
    )
    why = f"{said}; {shifts}" if shown else "no evidence applies"
    return f"{where}kept as {_short(declared)}: no reading fits mapped features better than chance ({why})."


def _alt_text(
    status: Status,
    declared: str,
    alt: str,
    shown: list[CrsEvidence],
    unit: str,
    label: str | None,
    mixed: bool,
) -> tuple[str, str]:
    """(message, fix) of a ``suspect`` or ``refuse`` verdict."""
    where = f"{label}: " if label else ""
    said = "; ".join(e.phrase(alt, unit) for e in shown)
    as_declared = ", ".join(e.count(declared) for e in shown)
    null = ", ".join(e.null_text() for e in shown)
    shifts = f"random shifts of {NULL_SHIFT_M[0]:.0f}-{NULL_SHIFT_M[1]:.0f} m give {null} on average"
    keep = f"to keep {_short(declared)}, pass --no-crs-check"
    file = label or "FILE"
    if mixed:
        only = ", ".join(f"{e.exclusive[alt]:.0f}" for e in shown)
        head = f"some rows look like {CRS_LABELS[alt]} in a file declared as {CRS_LABELS[declared]}"
        said += f" ({only} of them only as {_short(alt)})"
        part = f"{file}:{alt} for the {_short(alt)} rows"
        fix = f"split the file by source and declare each part (e.g. {part}); {keep}"
    else:
        head = f"looks like {CRS_LABELS[alt]} coordinates declared as {CRS_LABELS[declared]}"
        fix = f"if the numbers are {CRS_LABELS[alt]}, declare the file as {alt} ({file}:{alt}); {keep}"
    lead = "refused: " if status == "refuse" else "warning: "
    msg = (
        f"{lead}{where}{head}: read as {_short(alt)}, {said}; read as declared, {as_declared} ({shifts}). "
        f"{fix[0].upper()}{fix[1:]}."
    )
    return msg, fix


# --- assessing one input ----------------------------------------------------------------------------


def _places(xy: np.ndarray) -> np.ndarray:
    """Index of the first point in each :data:`PLACE_M` cell (sorted)."""
    cells = np.floor(xy / PLACE_M).astype(np.int64)
    return np.sort(np.unique(cells, axis=0, return_index=True)[1])


def _distinct_polygons(polys: np.ndarray) -> np.ndarray:
    """Index of the first of each set of polygons with the same centroid cell and area (m²)."""
    c = shapely.centroid(polys)
    x, y, a = shapely.get_x(c), shapely.get_y(c), shapely.area(polys)
    key = np.column_stack([np.floor(x / PLACE_M), np.floor(y / PLACE_M), np.round(a)])
    return np.sort(np.unique(key, axis=0, return_index=True)[1])


def _reading(geoms: np.ndarray, declared: str, reading: str, ref: CrsReference) -> np.ndarray:
    """``geoms`` (EPSG:4326, as read from a file declared ``declared``) re-read as ``reading``, in metres."""

    def move(c: np.ndarray) -> np.ndarray:
        raw = _FORWARD[declared](c[:, 0], c[:, 1])  # the numbers as they were in the file
        return ref.project(*to_wgs84(*raw, reading))

    return np.asarray(shapely.transform(geoms, move), dtype=object)


def _prepare(
    geometries: Any, categories: Any, names: Any, kind: str | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, str]:
    """Non-empty geometries (points, or polygons for ``polygons``) with their categories and names."""
    geoms = geometry_array(geometries)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if kind is None:
        kind = "polygons" if ok.any() and np.isin(shapely.get_type_id(geoms[ok]), (3, 6)).all() else "points"
    if kind == "polygons":  # invalid rings repaired; what is not polygonal then is left out
        geoms = np.asarray(shapely.make_valid(geoms[ok]), dtype=object)
        return geoms[np.isin(shapely.get_type_id(geoms), (3, 6))], None, None, kind
    pts = geoms.copy()
    other = ok & (shapely.get_type_id(geoms) != 0)
    pts[other] = shapely.point_on_surface(geoms[other])
    ok[ok] = np.isfinite(shapely.get_coordinates(pts[ok])).all(axis=1)
    cats = None if categories is None else np.asarray(list(categories), dtype=object)[ok]
    nams = None if names is None else np.asarray(list(names), dtype=object)[ok]
    return pts[ok], cats, nams, kind


def assess_crs(
    geometries: Any,
    declared: object,
    reference: CrsReference,
    *,
    categories: Iterable[object] | None = None,
    names: Iterable[object] | None = None,
    kind: Literal["points", "polygons"] | None = None,
    label: str | None = None,
) -> CrsVerdict:
    """Judge whether ``geometries`` fit the real world best as ``declared`` or as another of WGS84 /
    GCJ-02 / BD-09; see :class:`CrsVerdict` for the answer.

    ``geometries``: what a reader returned, in EPSG:4326 (already converted from ``declared``): a
    GeoDataFrame, GeoSeries or sequence of shapely geometries. ``categories`` / ``names``: per row
    (catalog keys, facility names), for matching OSM facilities. ``kind``: ``points`` (other geometries
    are taken at a representative point) or ``polygons``; by default from the geometry types.
    ``label`` names the input in the message (e.g. the file name). Projected declarations are not
    compared (``unverifiable``).

    Rows are reduced to distinct places first (:data:`PLACE_M` cells; identical polygons), of which at
    most :data:`MAX_PLACES` (:data:`MAX_POLYGONS`) are evaluated. Each reading's score per kind of
    evidence is compared with the declared reading's and with :data:`N_SHIFTS` shifts of the declared
    reading (:func:`_judge` gives the rule). About 0.1-0.2 s for 5,000 points or 100 polygons.
    """
    key = normalise_crs_name(declared)
    n_rows = len(geometry_array(geometries))
    if key not in _FORWARD:
        why = f"declared {key}; only lon/lat declarations (wgs84, gcj02, bd09) are compared"
        return _unverifiable(key, why, label, n_rows=n_rows)
    if reference.is_empty:
        return _unverifiable(key, "no reference data (streets, buildings, facilities)", label, n_rows=n_rows)
    geoms, cats, nams, shape = _prepare(geometries, categories, names, kind)
    read = {r: _reading(geoms, key, r, reference) for r in READINGS}
    xy = {r: shapely.get_coordinates(g) for r, g in read.items()} if shape == "points" else {}
    keep = _places(xy[key]) if shape == "points" else _distinct_polygons(read[key])
    n_places, limit = len(keep), (MAX_PLACES if shape == "points" else MAX_POLYGONS)
    if n_places > limit:
        keep = np.sort(np.random.default_rng(0).choice(keep, limit, replace=False))
    unit = "points" if shape == "points" else "polygons"
    counts = {"n_rows": n_rows, "n_places": n_places, "n_evaluated": len(keep)}
    if n_places < MIN_PLACES:
        why = f"only {n_places} distinct {unit[:-1]}(s); rows within {PLACE_M:.0f} m count once"
        return _unverifiable(key, why, label, **counts)
    shifts = null_shifts()
    if shape == "points":
        pos = np.stack([xy[r][keep] for r in READINGS] + [xy[key][keep] + s for s in shifts])
        near = reference.near_points(pos[: len(READINGS)])
        sub = (None if a is None else a[keep] for a in (cats, nams))
        scores = reference.point_scores(pos, *sub)
    else:
        polys = np.concatenate([read[r][keep] for r in READINGS] + [_translate(read[key][keep], shifts)])
        polys = polys.reshape(-1, len(keep))
        near = reference.near_polygons(polys[: len(READINGS)])
        scores = reference.polygon_scores(polys)
    counts["n_near"] = int(near[READINGS.index(key)].sum())
    if near.any(axis=0).sum() < MIN_PLACES:
        return _unverifiable(key, _far(counts["n_near"], len(keep), unit), label, **counts)
    evidence = [_evidence(k, m, s, key) for k, (m, s) in scores.items() if m.any()]
    status, alt, support, mixed = _judge(evidence, key, len(keep))
    if status == "ok" and counts["n_near"] < MIN_PLACES:  # nothing to confirm the declared reading with
        return _unverifiable(key, _far(counts["n_near"], len(keep), unit), label, **counts)
    sample = f" (a sample of {len(keep)} of {n_places} distinct)" if len(keep) < n_places else ""
    if alt is None:
        shown = sorted(evidence, key=lambda e: -abs(e.z(key)))[:3]
        msg, fix = _ok_text(key, shown, unit + sample, f"{label}: " if label else ""), ""
    else:
        msg, fix = _alt_text(status, key, alt, support, unit + sample, label, mixed)
    log.info("%s", msg)
    return CrsVerdict(status, key, msg, alt, fix, **counts, evidence=tuple(evidence))


def _far(n_near: int, n: int, unit: str) -> str:
    mapped = "a mapped street, building or facility"
    return f"only {n_near} of {n} distinct {unit} have {mapped} within {NEAR_M:.0f} m as declared"


def _unverifiable(
    declared: str,
    why: str,
    label: str | None,
    n_rows: int = 0,
    n_places: int = 0,
    n_evaluated: int = 0,
    n_near: int = 0,
) -> CrsVerdict:
    where = f"{label}: " if label else ""
    msg = f"{where}coordinate system not verified ({why}); kept as {CRS_LABELS.get(declared, declared)}"
    log.info("%s", msg)
    return CrsVerdict("unverifiable", declared, msg, None, "", n_rows, n_places, n_evaluated, n_near)
