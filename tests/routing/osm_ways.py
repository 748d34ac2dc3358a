"""Hand-made :class:`OsmWays` in metres (UTM 48N, central Chengdu) for access, area and crossing tests."""

from __future__ import annotations

import numpy as np
import pyproj

from circles.io.osm import OsmWays

CRS = "EPSG:32648"
X0, Y0 = 400_000.0, 3_390_000.0  # metres, UTM 48N (central Chengdu)


def make_ways(
    nodes: dict[int, tuple[float, float]],
    ways: dict[int, tuple[dict[str, str], list[int]]],
    *,
    signals: tuple[int, ...] = (),
    crs: str = CRS,
) -> OsmWays:
    """``nodes``: OSM id -> (x, y) metres from (X0, Y0); ``ways``: id -> (tags, node ids)."""
    to_ll = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    ids, tags, lengths, node_ids = [], [], [], []
    for wid, (t, refs) in ways.items():
        ids.append(wid)
        tags.append(t)
        lengths.append(len(refs))
        node_ids += refs
    xy = np.array([nodes[n] for n in node_ids], dtype=float) + (X0, Y0)
    lon, lat = to_ll.transform(xy[:, 0], xy[:, 1])
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return OsmWays(
        np.array(ids, dtype=np.int64),
        tags,
        offsets,
        np.array(node_ids, dtype=np.int64),
        np.asarray(lon),
        np.asarray(lat),
        source="hand-made",
        signal_node_ids=np.array(signals, dtype=np.int64),
    )


def node_index(net, osm_id: int) -> int:
    """The network node of an OSM node id."""
    return int(np.searchsorted(net.node_osm_id, osm_id))
