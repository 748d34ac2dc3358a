"""The coordinate system an export is written in: WGS84 (EPSG:4326, the default), CGCS2000 geographic
(EPSG:4490), the CGCS2000 3-degree Gauss–Krüger zone of the region (chosen automatically), GCJ-02 (the
offset coordinates of 高德/腾讯 base maps, marked as such) or any EPSG code.

For ``cgcs2000-gk`` the zone is the 3-degree zone whose central meridian (a multiple of 3°E) is nearest
the centre of the region; the CRS is the **"CM" variant, EPSG:4534–4554** ("CGCS2000 / 3-degree
Gauss-Kruger CM 105E" for Chengdu, EPSG:4544): easting 500,000 m at the central meridian **without**
the zone number in front (the zone-prefixed variants are EPSG:4513–4533, e.g. EPSG:4523 for zone 35,
whose eastings read 35,xxx,xxx m; ask for those with ``EPSG:n``). Six-digit eastings keep the numbers
in a CAD drawing smaller; a drawing that must match zone-prefixed survey sheets uses EPSG:4513–4533.

GCJ-02 is no datum with an EPSG code: coordinates are shifted from WGS84 with
:func:`circles.io.coords.wgs84_to_gcj02` and the files carry a custom geographic CRS named "GCJ-02 …
not WGS 84" (``.prj``, GeoPackage), so no GIS mistakes them for WGS84 by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from .._common import WGS84, BBox
from ..errors import InputError

__all__ = [
    "CRS_KEYS",
    "GCJ02_WKT",
    "GK_CM_EPSG_FIRST",
    "OutputCrs",
    "check_crs_spec",
    "gk_zone_epsg",
    "resolve_output_crs",
]

#: The names ``--crs`` takes besides ``EPSG:n``.
CRS_KEYS: tuple[str, ...] = ("wgs84", "cgcs2000", "cgcs2000-gk", "gcj02")
#: EPSG code of "CGCS2000 / 3-degree Gauss-Kruger CM 75E"; CM 78E is the next code, up to CM 135E
#: (EPSG:4554).
GK_CM_EPSG_FIRST = 4534
_GK_CM_FIRST, _GK_CM_LAST = 75, 135
#: The custom geographic CRS written for GCJ-02 coordinates (WGS 84 ellipsoid, named as not WGS 84).
GCJ02_WKT = (
    'GEOGCS["GCJ-02 (China map offset of WGS 84, used by Amap/Tencent; not WGS 84)",'
    'DATUM["GCJ_02_offset_of_WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],'
    'AXIS["Longitude",EAST],AXIS["Latitude",NORTH]]'
)
_EPSG_RE = re.compile(r"^epsg:(\d{4,6})$")


@dataclass(frozen=True)
class OutputCrs:
    """An export's coordinate system: ``key`` as asked (``wgs84``, ``cgcs2000``, ``cgcs2000-gk``,
    ``gcj02`` or ``EPSG:n``), the pyproj ``crs`` written into the files, a one-line ``label`` naming it
    (and the zone for Gauss–Krüger), whether it is ``projected`` (metres) and whether coordinates are
    GCJ-02-shifted (``gcj02``)."""

    key: str
    crs: CRS
    label: str
    projected: bool
    gcj02: bool = False

    @property
    def epsg(self) -> int | None:
        """The EPSG code, None for GCJ-02."""
        return None if self.gcj02 else self.crs.to_epsg()

    @property
    def is_wgs84(self) -> bool:
        return self.epsg == 4326

    @property
    def units(self) -> str:
        return "metres (x = easting, y = northing)" if self.projected else "degrees (longitude, latitude)"

    def apply(self, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """``gdf`` (any CRS) in this coordinate system."""
        if not self.gcj02:
            return gdf.to_crs(self.crs)
        from ..io.coords import wgs84_to_gcj02

        wgs = gdf.to_crs(WGS84)
        geoms = wgs.geometry.to_numpy()
        if len(geoms):

            def shift(xy: np.ndarray) -> np.ndarray:
                lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
                return np.column_stack([lon, lat])

            geoms = shapely.transform(geoms, shift)
        return wgs.set_geometry(gpd.GeoSeries(geoms, index=wgs.index, crs=self.crs))


def gk_zone_epsg(lon: float) -> tuple[int, int]:
    """(EPSG code of the CGCS2000 3-degree Gauss–Krüger "CM" CRS, central meridian in degrees east) for
    longitude ``lon``: the zone whose central meridian (3° x zone number) is nearest. China's zones
    run from 75°E to 135°E; :class:`InputError` outside."""
    cm = 3 * round(lon / 3)
    if not _GK_CM_FIRST <= cm <= _GK_CM_LAST:
        raise InputError(
            f"longitude {lon:.2f}° lies outside China's CGCS2000 3-degree Gauss-Kruger zones "
            f"({_GK_CM_FIRST - 1.5:g}-{_GK_CM_LAST + 1.5:g}°E): give --crs EPSG:n instead"
        )
    return GK_CM_EPSG_FIRST + (cm - _GK_CM_FIRST) // 3, cm


def resolve_output_crs(spec: str | OutputCrs | None, bbox: BBox, *, default: str = "wgs84") -> OutputCrs:
    """The :class:`OutputCrs` for ``spec`` (a name of :data:`CRS_KEYS`, ``EPSG:n`` or a bare EPSG
    number; case-insensitive; None: ``default``) over a region of ``bbox`` (WGS84 degrees), which
    decides the Gauss–Krüger zone. :class:`InputError` lists the choices for anything else."""
    if isinstance(spec, OutputCrs):
        return spec
    text = (spec if spec is not None else default).strip().lower().replace("_", "-")
    if text.isdigit():
        text = f"epsg:{text}"
    if text in ("wgs84", "epsg:4326"):
        return OutputCrs("wgs84", CRS.from_epsg(4326), "EPSG:4326 WGS 84 (longitude/latitude)", False)
    if text in ("cgcs2000", "epsg:4490"):
        return OutputCrs(
            "cgcs2000",
            CRS.from_epsg(4490),
            "EPSG:4490 CGCS2000 (China Geodetic Coordinate System 2000)",
            False,
        )
    if text in ("cgcs2000-gk", "gk", "cgcs2000gk"):
        centre = (bbox[0] + bbox[2]) / 2.0
        code, cm = gk_zone_epsg(centre)
        west, east = cm - 1.5, cm + 1.5
        spill = (
            ""
            if west <= bbox[0] and bbox[2] <= east
            else f"; the region reaches past the zone ({west:g}-{east:g}°E)"
        )
        crs = CRS.from_epsg(code)
        label = (
            f"EPSG:{code} {crs.name} (3-degree zone {cm // 3}, central meridian {cm}°E, chosen for the "
            f"region's centre {centre:.2f}°E; false easting 500,000 m without zone prefix{spill})"
        )
        return OutputCrs("cgcs2000-gk", crs, label, True)
    if text == "gcj02":
        label = "GCJ-02 (高德/腾讯 map offset of WGS 84; NOT WGS 84: only for overlaying on those base maps)"
        return OutputCrs("gcj02", CRS.from_wkt(GCJ02_WKT), label, False, gcj02=True)
    m = _EPSG_RE.match(text)
    if m:
        try:
            crs = CRS.from_epsg(int(m.group(1)))
        except CRSError:
            raise InputError(f"--crs {spec}: no such EPSG code") from None
        if not (crs.is_projected or crs.is_geographic):
            raise InputError(f"--crs {spec}: {crs.name} is not a 2-D geographic or projected CRS")
        return OutputCrs(f"EPSG:{m.group(1)}", crs, f"EPSG:{m.group(1)} {crs.name}", bool(crs.is_projected))
    raise InputError(
        f"--crs {spec!r}: choose wgs84 (EPSG:4326, default), cgcs2000 (EPSG:4490), cgcs2000-gk (the region's "
        "CGCS2000 3-degree Gauss-Kruger zone), gcj02 (高德/腾讯 base maps) or EPSG:n"
    )


def check_crs_spec(spec: str | None, fmt: str) -> None:
    """Refuse a bad ``--crs`` before any work: an unknown name or EPSG code, or a geographic system for
    a DXF drawing (``fmt == 'dxf'``). The Gauss–Krüger zone is chosen later, from the region."""
    if spec is None:
        return
    key = spec.strip().lower().replace("_", "-")
    if key in ("cgcs2000-gk", "gk", "cgcs2000gk"):
        return
    out = resolve_output_crs(spec, (104.0, 30.0, 104.1, 30.1))  # the box matters for GK only
    if fmt == "dxf" and not out.projected:
        raise InputError(
            f"DXF is drawn in metres: --crs {spec} is in degrees; use cgcs2000-gk (the default for .dxf) "
            "or a projected EPSG:n"
        )
