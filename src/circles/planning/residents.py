"""Where residents live inside each community: weighted resident points, and population rasters.

A community's residents are represented by points spread over its polygon (or over its buildings
when a building layer is given), each carrying a ``weight`` = the number of residents it stands for.
Coverage and gap statistics then count residents by summing the weights of the points reached.

All geometry here is in a metric projected CRS (metres; EPSG:32648, UTM 48N, for Chengdu). Areas
are m². A population raster must hold *persons per cell* (counts, e.g. WorldPop "ppp"), not
densities; it may be in any CRS.
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..errors import DataFileError, InputError

__all__ = [
    "PERSONS_PER_HOUSEHOLD",
    "WEIGHT_KINDS",
    "persons_per_household",
    "population_from_raster",
    "raster_values_at",
    "resident_points",
]

log = logging.getLogger(__name__)

#: Average persons per family household in Chengdu: 2.49 (成都市第七次全国人口普查公报, 7th national
#: population census, 2020). Converts ``households`` to residents when ``population`` is missing.
PERSONS_PER_HOUSEHOLD = 2.49

#: What a community's weights sum to: its ``population``; ``households`` x 2.49; the raster's zonal
#: sum; or, with none of these, its area in m² (then weights are *not* persons).
WEIGHT_KINDS = ("population", "households", "raster", "area")

_GROW = 1.15  # grid spacing growth factor while a community has more than max_points points
_SAMPLE_BATCH = 256
_SAMPLE_ROUNDS = 40


def _check_metric(gdf: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> pyproj.CRS:
    crs = gdf.crs
    if crs is None:
        raise InputError(
            f"{what} have no coordinate system; reproject them to a metric CRS (e.g. EPSG:32648)"
        )
    crs = pyproj.CRS.from_user_input(crs)
    unit = crs.axis_info[0].unit_name if crs.axis_info else ""
    if not crs.is_projected or unit not in ("metre", "meter"):
        raise InputError(
            f"{what} must be in a projected CRS in metres (e.g. EPSG:32648), not {crs.to_string()}"
        )
    return crs


def _counts(communities: gpd.GeoDataFrame, column: str) -> np.ndarray:
    if column not in communities.columns:
        return np.full(len(communities), np.nan)
    values = np.array(pd.to_numeric(communities[column], errors="coerce"), dtype=float)
    bad = values < 0
    if bad.any():
        ids = communities["community_id"].to_numpy()[bad][:10]
        raise InputError(f"{column} must be >= 0; negative for communities {', '.join(map(repr, ids))}")
    return values


def _grid(poly: shapely.Geometry, spacing: float) -> np.ndarray:
    """Centres of a ``spacing`` grid (aligned to multiples of it) that fall inside ``poly``, as (n, 2)."""
    x0, y0, x1, y1 = poly.bounds
    xs = np.arange(math.floor(x0 / spacing) * spacing + spacing / 2, x1, spacing)
    ys = np.arange(math.floor(y0 / spacing) * spacing + spacing / 2, y1, spacing)
    xx, yy = (a.ravel() for a in np.meshgrid(xs, ys))
    inside = shapely.contains_xy(poly, xx, yy)
    return np.column_stack([xx[inside], yy[inside]])


def _spread(
    poly: shapely.Geometry, spacing_m: float, max_points: int, min_points: int, rng: np.random.Generator
) -> np.ndarray:
    """Grid points inside ``poly`` at ``spacing_m`` (coarsened until <= max_points), topped up to
    ``min_points`` with its representative point and random points inside it."""
    shapely.prepare(poly)
    spacing = max(spacing_m, math.sqrt(poly.area / max_points)) if poly.area > 0 else spacing_m
    xy = _grid(poly, spacing)
    while len(xy) > max_points:
        spacing *= _GROW
        xy = _grid(poly, spacing)
    if len(xy) >= min_points:
        return xy
    extra = [shapely.get_coordinates(poly.point_on_surface())]
    have = len(xy) + 1
    x0, y0, x1, y1 = poly.bounds
    for _ in range(_SAMPLE_ROUNDS):
        if have >= min_points:
            break
        sx, sy = rng.uniform(x0, x1, _SAMPLE_BATCH), rng.uniform(y0, y1, _SAMPLE_BATCH)
        ok = shapely.contains_xy(poly, sx, sy)
        take = np.column_stack([sx[ok], sy[ok]])[: min_points - have]
        extra.append(take)
        have += len(take)
    xy = np.vstack([xy, *extra])
    if len(xy) < min_points:  # a sliver random points cannot hit: repeat the representative point
        xy = np.vstack([xy, np.repeat(xy[-1:], min_points - len(xy), axis=0)])
    return xy


def _building_layer(buildings: gpd.GeoDataFrame | gpd.GeoSeries, crs: pyproj.CRS) -> np.ndarray:
    """The building footprints in ``crs`` (metres): polygons only, empty ones dropped, invalid ones
    repaired."""
    if buildings.crs is None:
        raise InputError("buildings have no coordinate system")
    geoms = (
        buildings.to_crs(crs).geometry.to_numpy()
        if isinstance(buildings, gpd.GeoDataFrame)
        else buildings.to_crs(crs).to_numpy()
    )
    keep = np.isin(shapely.get_type_id(geoms), (3, 6)) & ~shapely.is_empty(geoms)
    geoms = geoms[keep]
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
        log.debug("repaired %d invalid building polygons", int(invalid.sum()))
    return geoms


class _Footprints:
    """Building footprints (metric CRS) with a spatial index: where a community's residents live."""

    def __init__(self, buildings: gpd.GeoDataFrame | gpd.GeoSeries, crs: pyproj.CRS) -> None:
        self.geoms = _building_layer(buildings, crs)
        self.tree = shapely.STRtree(self.geoms)

    def within(self, poly: shapely.Geometry) -> shapely.Geometry:
        """The part of ``poly`` covered by buildings (polygonal), or ``poly`` itself when no building
        with area lies in it."""
        hits = self.tree.query(poly, predicate="intersects")
        if not hits.size:
            return poly
        inside = shapely.union_all(shapely.intersection(self.geoms[hits], poly))
        inside = shapely.union_all([p for p in shapely.get_parts(inside) if shapely.get_type_id(p) in (3, 6)])
        return inside if not inside.is_empty and inside.area > 0 else poly


# --- resident_points: check -> spread points -> community totals -> point weights ----------------


def _check_communities(
    communities_metric: gpd.GeoDataFrame, spacing_m: float, max_points: int, min_points: int
) -> pyproj.CRS:
    """The communities' metric CRS, or an :class:`InputError` for a bad CRS, option or polygon."""
    crs = _check_metric(communities_metric, "communities")
    if not spacing_m > 0:
        raise InputError(f"spacing_m must be > 0 m (got {spacing_m!r})")
    if not 1 <= min_points <= max_points:
        raise InputError(f"need 1 <= min_points <= max_points (got {min_points}, {max_points})")
    if "community_id" not in communities_metric.columns:
        raise InputError("communities need a 'community_id' column")
    geoms = communities_metric.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms) | (shapely.area(geoms) <= 0)
    if empty.any():
        ids = communities_metric["community_id"].to_numpy()
        raise InputError(f"communities without area: {', '.join(map(repr, ids[empty][:10]))}")
    return crs


def _spread_all(
    geoms: np.ndarray,
    footprints: _Footprints | None,
    spacing_m: float,
    max_points: int,
    min_points: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Points for every community polygon, in order, over its buildings when ``footprints`` are
    given: (xy (n, 2) in metres, the row of each point's community)."""
    rng = np.random.default_rng(seed)
    xy_parts: list[np.ndarray] = []
    owner_parts: list[np.ndarray] = []
    for i, poly in enumerate(geoms):
        target = footprints.within(poly) if footprints is not None else poly
        xy = _spread(target, spacing_m, max_points, min_points, rng)
        xy_parts.append(xy)
        owner_parts.append(np.full(len(xy), i))
    return np.vstack(xy_parts), np.concatenate(owner_parts)


def persons_per_household(communities: pd.DataFrame) -> np.ndarray:
    """Persons per household of each community: its ``persons_per_household`` column where set (the
    pipeline fills it from the 2020 census of the community's district), else the city-wide
    :data:`PERSONS_PER_HOUSEHOLD`."""
    if "persons_per_household" not in communities:
        return np.full(len(communities), PERSONS_PER_HOUSEHOLD)
    pph = pd.to_numeric(communities["persons_per_household"], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(pph) & (pph > 0), pph, PERSONS_PER_HOUSEHOLD)


def _community_totals(comm: gpd.GeoDataFrame, raster: str | Path | None) -> tuple[np.ndarray, np.ndarray]:
    """What each community's weights sum to and which kind that is (:data:`WEIGHT_KINDS`): its
    population; else households x :data:`PERSONS_PER_HOUSEHOLD`; else the raster's zonal sum; else
    its area (m²)."""
    total = _counts(comm, "population")
    kind = np.where(np.isfinite(total), "population", "").astype(object)
    hh = _counts(comm, "households") * persons_per_household(comm)
    use = (kind == "") & np.isfinite(hh)
    total[use], kind[use] = hh[use], "households"
    if raster is not None:
        need = kind == ""
        if need.any():
            total[need], kind[need] = population_from_raster(comm[need], raster).to_numpy(), "raster"
    use = kind == ""
    total[use], kind[use] = shapely.area(comm.geometry.to_numpy()[use]), "area"
    return total, kind


def _point_weights(
    owner: np.ndarray, cell: np.ndarray, total: np.ndarray, ids: np.ndarray, with_raster: bool
) -> np.ndarray:
    """Each community's ``total`` shared among its points in proportion to ``cell`` (the raster value
    under each point; all ones without a raster), uniformly where its points all read 0."""
    share = np.zeros(len(owner))
    for i in range(len(total)):
        sel = owner == i
        v = cell[sel]
        if v.sum() > 0:
            share[sel] = v / v.sum()
        else:
            share[sel] = 1.0 / np.count_nonzero(sel)
            if with_raster and total[i] > 0:
                log.debug(
                    "community %r: no resident point on a populated raster cell; weights uniform", ids[i]
                )
    return share * total[owner]


def _weight_kind(kind: np.ndarray, ids: np.ndarray) -> str:
    """The common weight kind of all communities, or ``'mixed'`` (logged when areas mix with people)."""
    kinds = sorted(set(kind.tolist()))
    if "area" in kinds and len(kinds) > 1:
        log.warning(
            "weights mix residents and m² of area: %d communities have no population, households "
            "or raster (%s); their weights are areas",
            int((kind == "area").sum()),
            ", ".join(map(repr, ids[kind == "area"][:10])),
        )
    elif kinds == ["area"]:
        log.info("no population, households or raster: resident points weighted by area (m²)")
    return kinds[0] if len(kinds) == 1 else "mixed"


def resident_points(
    communities_metric: gpd.GeoDataFrame,
    *,
    spacing_m: float = 50.0,
    max_points: int = 200,
    min_points: int = 4,
    buildings: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    raster: str | Path | None = None,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """Points standing for each community's residents, in the communities' metric CRS.

    ``communities_metric``: polygons in a projected CRS in metres, with ``community_id`` and
    optionally ``population`` and ``households``. Per community, points are the centres of a square
    grid of ``spacing_m`` metres inside the polygon (the spacing grows until there are at most
    ``max_points``), topped up to ``min_points`` with the representative point and seeded random points
    inside.

    ``buildings``: residential building footprints (polygons or multipolygons, any CRS; reprojected to
    the communities' CRS, other geometry types ignored, invalid polygons repaired), e.g.
    :func:`circles.io.osm_features.osm_residential_buildings`. The points of a community are then
    spread over the part of its polygon that its buildings cover (where residents actually live);
    a community with no building inside keeps its whole polygon. The weights do not change: they
    still sum to the community's total.

    ``weight``: residents per point. A community's weights sum to its ``population``; else
    ``households`` x :data:`PERSONS_PER_HOUSEHOLD` (2.49, Chengdu 7th census); else, with ``raster``
    (a persons-per-cell GeoTIFF), its zonal sum; else its area in m². ``weight_kind`` says which
    (``'population'``, ``'households'``, ``'raster'``, ``'area'``); ``attrs['weight_kind']`` holds the
    common kind, or ``'mixed'``. With ``raster`` the weights within a community are proportional to
    the raster cell under each point (points in 0 cells get 0), uniform when all points read 0.
    Returns columns ``community_id``, ``weight``, ``weight_kind``, ``geometry``.
    """
    crs = _check_communities(communities_metric, spacing_m, max_points, min_points)
    comm = communities_metric.reset_index(drop=True)
    ids = comm["community_id"].to_numpy()
    footprints = _Footprints(buildings, crs) if buildings is not None else None
    xy, owner = _spread_all(comm.geometry.to_numpy(), footprints, spacing_m, max_points, min_points, seed)
    points = shapely.points(xy[:, 0], xy[:, 1])
    total, kind = _community_totals(comm, raster)
    cell = (
        raster_values_at(gpd.GeoSeries(points, crs=crs), raster)
        if raster is not None
        else np.ones(len(points))
    )
    weight = _point_weights(owner, cell, total, ids, raster is not None)
    out = gpd.GeoDataFrame(
        {"community_id": ids[owner], "weight": weight, "weight_kind": kind[owner]}, geometry=points, crs=crs
    )
    out.attrs["weight_kind"] = _weight_kind(kind, ids)
    log.info("%d resident points for %d communities", len(out), len(comm))
    return out


# --- rasters -------------------------------------------------------------------------------------


class _Raster:
    """An open single-band raster with DataFileError for every way it can be unusable."""

    def __init__(self, path: str | Path) -> None:
        import rasterio

        self.path = Path(path)
        if not self.path.exists():
            raise DataFileError(f"{self.path}: file not found")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.ds = rasterio.open(self.path)
            except Exception as e:  # rasterio raises RasterioIOError and others
                raise DataFileError(f"{self.path}: cannot read as a raster ({e})") from e
        for w in caught:
            log.warning("%s: %s", self.path, w.message)
        if self.ds.crs is None:
            self.ds.close()
            raise DataFileError(f"{self.path}: raster has no coordinate system")
        self.crs = pyproj.CRS.from_user_input(self.ds.crs.to_wkt())

    def __enter__(self) -> _Raster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.ds.close()

    def window(self, bounds: tuple[float, float, float, float]) -> Any | None:
        """The whole-cell window covering ``bounds`` (raster CRS), clipped to the raster; None if outside."""
        from rasterio.windows import Window

        x0, y0, x1, y1 = bounds
        inv = ~self.ds.transform
        cols, rows = zip(*(inv * (x, y) for x in (x0, x1) for y in (y0, y1)))
        c0, c1 = max(math.floor(min(cols)), 0), min(math.floor(max(cols)) + 1, self.ds.width)
        r0, r1 = max(math.floor(min(rows)), 0), min(math.floor(max(rows)) + 1, self.ds.height)
        if c1 <= c0 or r1 <= r0:
            return None
        return Window(c0, r0, c1 - c0, r1 - r0)

    def read(self, window: Any) -> np.ndarray:
        """Band 1 in ``window`` as float persons per cell; nodata, NaN and negatives are 0."""
        try:
            data = self.ds.read(1, window=window, masked=True)
        except Exception as e:
            raise DataFileError(f"{self.path}: cannot read raster data ({e})") from e
        values = np.ma.filled(data.astype(float), 0.0)
        values[~np.isfinite(values) | (values < 0)] = 0.0
        return values


def population_from_raster(communities_metric: gpd.GeoDataFrame, raster_path: str | Path) -> pd.Series:
    """Residents per community: the sum of the raster cells whose centre lies in the polygon.

    The raster (persons per cell, any CRS) is read with rasterio; the polygons are reprojected to its
    CRS. A polygon too small to hold a cell centre gets the cell under its representative point
    scaled by its share of that cell's area. Nodata, NaN and negative cells count 0. Communities
    that do not overlap the raster get 0 with a logged warning. Returns a float Series indexed by
    ``community_id`` (or the frame's index when that column is absent), named ``residents``.
    """
    from rasterio.features import geometry_mask

    if communities_metric.crs is None:
        raise InputError("communities have no coordinate system")
    index = (
        communities_metric["community_id"].to_numpy()
        if "community_id" in communities_metric.columns
        else communities_metric.index.to_numpy()
    )
    with _Raster(raster_path) as r:
        geoms = communities_metric.to_crs(r.crs).geometry.to_numpy()
        sums = np.zeros(len(geoms))
        outside = np.zeros(len(geoms), dtype=bool)
        cell_area = abs(r.ds.transform.a * r.ds.transform.e - r.ds.transform.b * r.ds.transform.d)
        for i, g in enumerate(geoms):
            win = None if g is None or g.is_empty else r.window(g.bounds)
            if win is None:
                outside[i] = True
                continue
            values = r.read(win)
            inside = geometry_mask(
                [g],
                out_shape=values.shape,
                transform=r.ds.window_transform(win),
                invert=True,
                all_touched=False,
            )
            if inside.any():
                sums[i] = float(values[inside].sum())
                continue
            px, py = g.point_on_surface().coords[0]
            col, row = ~r.ds.window_transform(win) * (px, py)
            row, col = int(math.floor(row)), int(math.floor(col))
            if 0 <= row < values.shape[0] and 0 <= col < values.shape[1]:
                sums[i] = float(values[row, col]) * min(1.0, g.area / cell_area)
    if outside.all():
        log.warning(
            "%s: the raster does not overlap any of the %d communities; residents are 0",
            raster_path,
            len(geoms),
        )
    elif outside.any():
        log.warning(
            "%s: the raster does not overlap %d communities (%s); their residents are 0",
            raster_path,
            int(outside.sum()),
            ", ".join(map(repr, index[outside][:10])),
        )
    return pd.Series(sums, index=pd.Index(index, name="community_id"), name="residents")


def raster_values_at(points: gpd.GeoDataFrame | gpd.GeoSeries, raster_path: str | Path) -> np.ndarray:
    """The raster cell value (persons per cell) under each point; 0 outside the raster and for
    nodata, NaN or negative cells. ``points`` may be in any CRS; they are reprojected to the raster's."""
    if points.crs is None:
        raise InputError("points have no coordinate system")
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    out = np.zeros(len(geoms))
    if len(geoms) == 0:
        return out
    with _Raster(raster_path) as r:
        xy = shapely.get_coordinates(geoms.to_crs(r.crs).to_numpy())
        win = r.window((xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max()))
        if win is None:
            log.warning(
                "%s: the raster does not overlap the %d points; their values are 0", raster_path, len(xy)
            )
            return out
        values = r.read(win)
        inv = ~r.ds.window_transform(win)
        cols, rows = inv * (xy[:, 0], xy[:, 1])
        rows, cols = np.floor(rows).astype(int), np.floor(cols).astype(int)
        ok = (rows >= 0) & (rows < values.shape[0]) & (cols >= 0) & (cols < values.shape[1])
        out[ok] = values[rows[ok], cols[ok]]
    return out
