"""Checking the coordinate system of each input file against the map before it is used: the map is the
region's streets, buildings, residential areas and OSM facilities (:class:`CrsReferenceSource`, built once
on first use); :func:`check_file_crs` judges one file read by a reader (its ``attrs`` say how it was
read) with :func:`circles.io.crs_check.assess_crs` and refuses it when the evidence is overwhelming."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Region
    from ..routing.graph import ProfileGraph
    from ..routing.network import StreetNetwork
    from .crs_reference import CrsReference

log = logging.getLogger(__name__)


class CrsReferenceSource:
    """The map a file's coordinates are checked against (built on first use, once per plan): the
    region's streets, buildings, residential areas and OSM facilities."""

    def __init__(self, region: Region, net: StreetNetwork, walk: ProfileGraph) -> None:
        self.region, self.net, self.walk = region, net, walk
        self.osm_facilities: gpd.GeoDataFrame | None = None
        self._reference: CrsReference | None = None

    def get(self) -> CrsReference:
        if self._reference is None:
            from .crs_reference import crs_reference_from_osm

            osm_path = self.region.osm_path if self.region.osm_path.exists() else None
            self._reference = crs_reference_from_osm(
                osm_path,
                self.net,
                self.walk,
                facilities=self.osm_facilities,
                metric_crs=self.region.metric_crs,
            )
        return self._reference


def check_file_crs(
    gdf: gpd.GeoDataFrame, what: str, source: CrsReferenceSource, *, enabled: bool
) -> dict[str, Any]:
    """Judge the coordinate system ``gdf`` was read in (its ``attrs``) against the map; raise
    :class:`~circles.errors.CoordinateSystemError` when refused and ``enabled``; log a warning when
    suspect. Returns a JSON-ready record of the file, how it was read and the verdict."""
    from .crs_check import assess_crs

    path = Path(str(gdf.attrs.get("source_file", what)))
    read_as = gdf.attrs.get("crs_read_as", "wgs84")
    verdict = assess_crs(
        gdf,
        read_as,
        source.get(),
        categories=gdf["category"] if "category" in gdf else None,
        names=gdf["name"] if "name" in gdf else None,
        label=path.name,
    )
    if enabled:
        verdict.raise_if_refused()
    if verdict.caught:
        log.warning("%s", verdict.message)
    return {
        "file": str(path),
        "what": what,
        "rows": len(gdf),
        "crs_read_as": read_as,
        "crs_from": gdf.attrs.get("crs_from", ""),
        "check_enforced": enabled,
        "check": verdict.as_dict(),
    }


def check_notes(checks: list[dict[str, Any]]) -> list[str]:
    """One note per file whose check did not simply pass (suspect, refused but overridden, unverifiable)."""
    notes = []
    for c in checks:
        status, message = c["check"]["status"], c["check"]["message"]
        if status == "refuse" and not c["check_enforced"]:
            notes.append(f"coordinate check OVERRIDDEN (--no-crs-check): {message}")
        elif status in ("suspect", "refuse"):
            notes.append(f"coordinate check WARNING: {message}")
        elif status == "unverifiable":
            notes.append(f"coordinate check could not verify {Path(c['file']).name}: {message}")
    return notes
