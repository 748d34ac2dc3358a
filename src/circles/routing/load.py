"""Loading a region's (or any OSM file's) street network, with a per-process cache.

When a registered region's extract is absent, the same bbox is fetched with osmnx (needs the
network and the ``download`` extra); tests never do this.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from .._common import BBox
from ..config import DEFAULT_REGION, Profile, Region, get_profile, get_region
from ..errors import DataFileError, OutsideRegionError
from ..io.osm import OsmWays
from ..routing.access_rules import CrossingDelays, access_rules, crossing_delays
from ..routing.graph import ProfileGraph
from ..routing.network import StreetNetwork, load_network, network_from_ways

log = logging.getLogger(__name__)

#: Way tags osmnx must keep for the access rules of :mod:`circles.routing.network`.
ACCESS_TAGS = [
    "highway",
    "access",
    "foot",
    "bicycle",
    "sidewalk",
    "sidewalk:both",
    "sidewalk:left",
    "sidewalk:right",
    "oneway",
    "oneway:bicycle",
    "junction",
    "cycleway",
    "cycleway:both",
    "cycleway:left",
    "cycleway:right",
    "service",
    "name",
    "area",
]


def download_ways(bbox: tuple[float, float, float, float]) -> OsmWays:
    """Fetch the highway ways of a bbox (WGS84 degrees) with osmnx; each unsimplified edge becomes a
    two-node way carrying its tags."""
    try:
        import osmnx as ox
    except ImportError as e:  # pragma: no cover - optional
        raise DataFileError(
            "the OSM extract is absent and osmnx is not installed (pip install 'circles[download]')"
        ) from e
    ox.settings.useful_tags_way = list(dict.fromkeys(list(ox.settings.useful_tags_way) + ACCESS_TAGS))
    try:  # pragma: no cover - needs the network
        G = ox.graph_from_bbox(bbox, network_type="all", simplify=False, retain_all=True)
    except Exception as e:  # pragma: no cover
        raise DataFileError(f"the OSM extract is absent and downloading bbox {bbox} failed: {e}") from e
    ids, tags, nodes, lon, lat = [], [], [], [], []  # pragma: no cover
    for k, (u, v, d) in enumerate(G.edges(data=True)):  # pragma: no cover
        ids.append(k)
        tags.append({t: str(d[t]) for t in ACCESS_TAGS if t in d and not isinstance(d[t], list)})
        nodes += [u, v]
        lon += [G.nodes[u]["x"], G.nodes[v]["x"]]
        lat += [G.nodes[u]["y"], G.nodes[v]["y"]]
    return OsmWays(
        np.array(ids),
        tags,
        np.arange(0, 2 * len(ids) + 1, 2),
        np.array(nodes),
        np.array(lon),
        np.array(lat),
        source=f"osmnx download of {bbox}",
    )  # pragma: no cover


@lru_cache(maxsize=8)
def _network(
    osm_path: str,
    crs: str | None,
    country: str | None = None,
    access: tuple[tuple[str, str], ...] = (),
    crossings: CrossingDelays | None = None,
) -> StreetNetwork:
    rules = access_rules(country, access) if (country or access) else None
    return load_network(Path(osm_path), crs, country=country, rules=rules, crossings=crossings)


def region_network(region: Region, *, download: bool = False, crossings: bool | None = None) -> StreetNetwork:
    """The street network of a registered region (cached per process), with the access rules of the
    region's ``country`` and its ``[<region>.access]`` overrides, and crossing delays when ``crossings``
    (``None``: as ``data/access_rules.toml`` says, off by default). When its extract is absent the
    region's bbox is fetched from the internet with osmnx only if ``download`` is true (the user asked,
    e.g. ``--download``); otherwise :class:`DataFileError` says where the file was looked for."""
    delays = crossing_delays(crossings)
    if region.osm_path.exists():
        return _network(
            str(region.osm_path), region.metric_crs, region.country or None, region.access, delays
        )
    if not download:
        raise DataFileError(
            f"{region.osm_path}: OSM extract of region {region.key!r} not found. Set CIRCLES_DATA_DIR to the "
            "folder that holds it, give --osm FILE, or (circles plan, gaps, map, sites) pass "
            "--download to fetch the region from OpenStreetMap (internet; needs the 'download' extra)"
        )
    log.warning("%s not found; downloading bbox %s with osmnx", region.osm_path, region.bbox)
    rules = access_rules(region.country or None, region.access) if (region.country or region.access) else None
    return network_from_ways(download_ways(region.bbox), region.metric_crs, rules=rules, crossings=delays)


def osm_network(path: Path, *, country: str | None = None, crossings: bool | None = None) -> StreetNetwork:
    """The street network of any OSM XML/PBF file, in its local UTM zone (cached per process), with the
    access rules of ``country`` (ISO 3166-1 alpha-2; ``None``: found from the extract's coordinates with
    the coarse lookup of ``data/access_rules.toml``, else the world default) and crossing delays when
    ``crossings``."""
    return _network(str(Path(path).resolve()), None, country or None, (), crossing_delays(crossings))


def profile_graph(net: StreetNetwork, profile: str | Profile) -> ProfileGraph:
    """The travel-time graph of ``net`` for a profile (name or object), built once per network and
    profile and kept on the network object (no id-keyed global: a new network never gets an old graph)."""
    return net.graph(get_profile(profile) if isinstance(profile, str) else profile)


def check_lonlat(lon: float, lat: float) -> None:
    """Raise :class:`OutsideRegionError` for coordinates that are not valid WGS84 degrees."""
    if not (np.isfinite(lon) and np.isfinite(lat)) or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise OutsideRegionError(f"({lon}, {lat}) is not a valid WGS84 longitude/latitude in degrees")


def check_inside(lon: float, lat: float, bbox: tuple[float, float, float, float], what: str) -> None:
    """Raise :class:`OutsideRegionError` unless (lon, lat) lies in ``bbox`` (degrees)."""
    check_lonlat(lon, lat)
    x0, y0, x1, y1 = bbox
    if not (x0 <= lon <= x1 and y0 <= lat <= y1):
        raise OutsideRegionError(
            f"({lon:.6f}, {lat:.6f}) is outside {what} (lon {x0:.4f}..{x1:.4f}, lat {y0:.4f}..{y1:.4f})"
        )


def open_network(
    region: str | None = None, osm: Path | None = None, *, download: bool = False, country: str | None = None
) -> tuple[StreetNetwork, BBox, str]:
    """The network of ``--osm FILE`` or of a registered region, its bbox (degrees) and a label;
    ``country`` overrides the access rule set of either."""
    if osm is not None:
        reg = region_for_osm(osm, country=country)
        return osm_network(osm, country=country), reg.bbox, f"the network of {Path(osm).name}"
    if country:
        reg = replace(get_region(region or DEFAULT_REGION), country=country)
        return region_network(reg, download=download), reg.bbox, f"region {reg.key}"
    reg = get_region(region or DEFAULT_REGION)
    return region_network(reg, download=download), reg.bbox, f"region {reg.key}"


def region_for_osm(path: Path, *, country: str | None = None) -> Region:
    """A study region made from any OSM XML/PBF file: its streets' extent padded by ~1 km (degrees),
    the local UTM zone as metric CRS, no district boundaries, the access rule set of ``country`` (or the
    one found from the data). The network is loaded (and cached)."""
    path = Path(path).resolve()
    net = osm_network(path, country=country)
    x0, y0, x1, y1 = net.bounds_wgs84()
    pad = 0.01  # degrees (~1 km): points just beyond the last street are judged by snapping
    return Region(
        key=path.name.split(".")[0],
        osm_path=path,
        bbox=(x0 - pad, y0 - pad, x1 + pad, y1 + pad),
        metric_crs=net.crs,
        name_en=path.name,
        source=f"OpenStreetMap file {path.name}, © OpenStreetMap contributors, ODbL",
        country=net.access_rules if net.access_rules != "world" else "",
    )
