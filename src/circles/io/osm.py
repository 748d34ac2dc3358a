"""Reading OpenStreetMap files (XML ``.osm`` or ``.osm.pbf``) with pyosmium.

Only raw OSM objects come out of here (tags, node ids, WGS84 degrees); which ways a profile may use is
decided in :mod:`circles.routing.network`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataFileError

__all__ = ["OSM_SUFFIXES", "SIGNAL_TAGS", "OsmWays", "check_osm_file", "is_signal", "read_highway_ways"]

log = logging.getLogger(__name__)

#: File name endings accepted as OpenStreetMap data.
OSM_SUFFIXES = (".osm", ".osm.pbf", ".pbf", ".osm.bz2", ".osm.gz", ".xml")


@dataclass
class OsmWays:
    """Highway ways of an OSM file.

    ``tags[i]`` belongs to way ``way_ids[i]``; its nodes are
    ``node_ids[offsets[i]:offsets[i+1]]`` at ``lon``/``lat`` (degrees, EPSG:4326).
    ``signal_node_ids`` are the OSM ids of nodes tagged ``highway=traffic_signals`` or
    ``crossing=traffic_signals`` (for optional crossing delays).
    """

    way_ids: np.ndarray
    tags: list[dict[str, str]]
    offsets: np.ndarray
    node_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    source: str = ""
    signal_node_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


#: Node tags that mark a signalised crossing.
SIGNAL_TAGS = (("highway", "traffic_signals"), ("crossing", "traffic_signals"))


def is_signal(tags: Any) -> bool:
    """Whether OSM tags (a dict or an osmium tag list) mark traffic signals (:data:`SIGNAL_TAGS`)."""
    return any(tags.get(k) == v for k, v in SIGNAL_TAGS)


def check_osm_file(path: str | Path) -> Path:
    """``path`` as a :class:`Path` to an existing file with an OSM suffix (:data:`OSM_SUFFIXES`);
    otherwise a :class:`DataFileError`."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"OSM file not found: {path}")
    if not path.is_file():
        raise DataFileError(f"not a file: {path}")
    name = path.name.lower()
    if not name.endswith(OSM_SUFFIXES):
        raise DataFileError(f"{path}: not an OSM file (expected one of {', '.join(OSM_SUFFIXES)})")
    return path


def read_highway_ways(path: str | Path) -> OsmWays:
    """All ways tagged ``highway=*`` with their node locations (WGS84 degrees). A node missing from the
    extract splits its way into separate runs; runs of fewer than two nodes are dropped.

    Raises :class:`DataFileError` when the file is missing or not readable as OSM.
    """
    import osmium

    path = check_osm_file(path)
    way_ids: list[int] = []
    tags: list[dict[str, str]] = []
    lengths: list[int] = []
    node_ids: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    signals: list[int] = []
    try:
        fp = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for obj in fp:
            if isinstance(obj, osmium.osm.Node):
                if len(obj.tags) and is_signal(obj.tags):
                    signals.append(obj.id)
                continue
            if not isinstance(obj, osmium.osm.Way) or "highway" not in obj.tags:
                continue
            way_tags = dict(obj.tags)
            # a node missing from the extract splits the way: never join across the gap
            runs: list[list[tuple[int, float, float]]] = [[]]
            for nd in obj.nodes:
                if nd.location.valid():
                    runs[-1].append((nd.ref, nd.lon, nd.lat))
                elif runs[-1]:
                    runs.append([])
            for run in runs:
                if len(run) < 2:
                    continue
                way_ids.append(obj.id)
                tags.append(way_tags)
                lengths.append(len(run))
                for ref, x, y in run:
                    node_ids.append(ref)
                    lons.append(x)
                    lats.append(y)
    except Exception as e:  # osmium raises RuntimeError, ValueError, InvalidLocationError …
        raise DataFileError(f"{path}: cannot read as OpenStreetMap data ({e})") from e
    log.info("read %d highway ways (%d way-nodes) from %s", len(way_ids), len(node_ids), path)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return OsmWays(
        way_ids=np.asarray(way_ids, dtype=np.int64),
        tags=tags,
        offsets=offsets,
        node_ids=np.asarray(node_ids, dtype=np.int64),
        lon=np.asarray(lons, dtype=np.float64),
        lat=np.asarray(lats, dtype=np.float64),
        source=str(path),
        signal_node_ids=np.asarray(signals, dtype=np.int64),
    )
