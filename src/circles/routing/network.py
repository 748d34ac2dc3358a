"""The street network: straight segments between consecutive OSM nodes, in a metric CRS.

Which segments a profile may use is derived from the OSM tags (see :func:`way_access`), so any extract
loads, not only the default one. Walking is allowed both ways on every walkable way; cycling follows
``oneway`` unless a bicycle exemption is tagged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj
from numpy.typing import ArrayLike

from ..errors import EmptyNetworkError
from ..io.osm import OsmWays, read_highway_ways

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Profile
    from .graph import ProfileGraph

log = logging.getLogger(__name__)

YES = {"yes", "designated", "permissive", "official"}
NO = {"no", "private", "use_sidepath"}

#: Ways walkable unless a tag forbids it.
FOOT_HIGHWAYS = {
    "footway",
    "pedestrian",
    "steps",
    "path",
    "living_street",
    "residential",
    "service",
    "unclassified",
    "tertiary",
    "tertiary_link",
    "secondary",
    "secondary_link",
    "primary",
    "primary_link",
    "track",
    "road",
    "cycleway",
    "corridor",
    "platform",
    "bridleway",
    "trail",
    "elevator",
}
#: Fast roads: walkable only where ``foot=yes|designated|permissive`` or a sidewalk is tagged.
FOOT_RESTRICTED = {"trunk", "trunk_link", "motorway", "motorway_link"}
SIDEWALK_YES = {"both", "left", "right", "yes"}

#: Ways a bicycle may use unless a tag forbids it.
BIKE_HIGHWAYS = {
    "cycleway",
    "residential",
    "living_street",
    "service",
    "unclassified",
    "tertiary",
    "tertiary_link",
    "secondary",
    "secondary_link",
    "primary",
    "primary_link",
    "track",
    "road",
    "path",
}
#: Ways a bicycle may use only where ``bicycle=yes`` (or a cycle lane/track is tagged, for trunk roads).
BIKE_RESTRICTED = {"trunk", "trunk_link", "footway", "pedestrian", "motorway", "motorway_link", "bridleway"}
CYCLEWAY_KEYS = ("cycleway", "cycleway:both", "cycleway:left", "cycleway:right")
CYCLEWAY_PRESENT = {"lane", "track", "shared_lane", "opposite_lane", "opposite_track", "yes"}

#: Segments a start point should not snap to (complaint: points snapped to a parking aisle).
NO_SNAP_SERVICE = {"parking_aisle", "driveway", "drive-through"}


@dataclass(frozen=True)
class WayAccess:
    """What one way allows: ``foot`` and ``bike`` usable, ``bike_oneway`` +1 (along the way), -1
    (against it) or 0 (both), ``steps`` is a staircase, ``snap`` may take start points."""

    foot: bool
    bike: bool
    bike_oneway: int
    steps: bool
    snap: bool


def way_access(tags: dict[str, str]) -> WayAccess:
    """Decide from OSM tags who may use a way. A specific mode tag (``foot``, ``bicycle``) overrides
    ``access`` as in OSM convention; ``foot=no`` and ``access=no|private`` exclude."""
    hw = tags.get("highway", "")
    access = tags.get("access", "")
    foot_tag = tags.get("foot", "")
    bike_tag = tags.get("bicycle", "")
    closed = access in NO

    if foot_tag in NO:
        foot = False
    elif foot_tag in YES:
        foot = hw not in ("construction", "proposed", "abandoned", "razed")
    elif closed:
        foot = False
    elif hw in FOOT_HIGHWAYS:
        foot = True
    elif hw in FOOT_RESTRICTED:
        foot = any(tags.get(k, "") in SIDEWALK_YES for k in ("sidewalk",)) or any(
            tags.get(f"sidewalk:{side}", "") == "yes" for side in ("both", "left", "right")
        )
    else:
        foot = False

    if bike_tag in NO or bike_tag == "dismount" or hw == "steps":
        bike = False
    elif bike_tag in YES:
        bike = hw not in ("construction", "proposed", "abandoned", "razed")
    elif closed:
        bike = False
    elif hw in BIKE_HIGHWAYS:
        bike = True
    elif hw in ("trunk", "trunk_link"):
        bike = any(tags.get(k, "") in CYCLEWAY_PRESENT for k in CYCLEWAY_KEYS)
    else:
        bike = False

    oneway = tags.get("oneway", "")
    bike_oneway = 0
    if oneway in ("yes", "true", "1") or tags.get("junction") in ("roundabout", "circular"):
        bike_oneway = 1
    elif oneway == "-1":
        bike_oneway = -1
    if tags.get("oneway:bicycle") == "no" or tags.get("cycleway", "").startswith("opposite"):
        bike_oneway = 0
    snap = tags.get("service", "") not in NO_SNAP_SERVICE
    return WayAccess(foot=foot, bike=bike, bike_oneway=bike_oneway, steps=hw == "steps", snap=snap)


@dataclass
class StreetNetwork:
    """Street segments in a metric CRS (metres).

    Node ``i`` is at ``node_xy[i]``; segment ``j`` runs from node ``seg_u[j]`` to ``seg_v[j]`` (the OSM
    way direction), ``seg_len_m[j]`` long. Per-segment flags: ``foot_ok``, ``bike_ok``,
    ``bike_oneway`` (+1 u->v only, -1 v->u only, 0 both), ``steps``, ``snap_ok``.
    """

    crs: str
    node_xy: np.ndarray
    seg_u: np.ndarray
    seg_v: np.ndarray
    seg_len_m: np.ndarray
    foot_ok: np.ndarray
    bike_ok: np.ndarray
    bike_oneway: np.ndarray
    steps: np.ndarray
    snap_ok: np.ndarray
    seg_way_id: np.ndarray | None = None
    node_osm_id: np.ndarray | None = None
    source: str = ""
    _to_wgs84: pyproj.Transformer | None = field(default=None, repr=False, compare=False)
    _from_wgs84: pyproj.Transformer | None = field(default=None, repr=False, compare=False)
    #: travel-time graphs built on this network, one per profile (see :meth:`graph`)
    graphs: dict[Profile, ProfileGraph] = field(default_factory=dict, repr=False, compare=False)
    #: raster-polygon indexes built on this network (see :func:`circles.routing.polygon_index.polygon_index`)
    polygon_index: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def graph(self, profile: Profile) -> ProfileGraph:
        """The travel-time graph of this network for ``profile``, built on first use and kept (a new
        network never sees another network's graph)."""
        if profile not in self.graphs:
            from .graph import ProfileGraph

            self.graphs[profile] = ProfileGraph(self, profile)
        return self.graphs[profile]

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)

    @property
    def n_segments(self) -> int:
        return len(self.seg_u)

    def to_wgs84(self) -> pyproj.Transformer:
        """Transformer from the network CRS to EPSG:4326 (lon, lat order)."""
        if self._to_wgs84 is None:
            self._to_wgs84 = pyproj.Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        return self._to_wgs84

    def from_wgs84(self) -> pyproj.Transformer:
        """Transformer from EPSG:4326 (lon, lat) to the network CRS."""
        if self._from_wgs84 is None:
            self._from_wgs84 = pyproj.Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        return self._from_wgs84

    def project(self, lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
        """WGS84 degrees to network CRS metres, shape (n, 2)."""
        x, y = self.from_wgs84().transform(np.atleast_1d(lon), np.atleast_1d(lat))
        return np.column_stack([x, y])

    def bounds_wgs84(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of all nodes, degrees."""
        lon, lat = self.to_wgs84().transform(self.node_xy[:, 0], self.node_xy[:, 1])
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())

    @classmethod
    def from_segments(
        cls,
        node_xy: np.ndarray,
        seg_u: np.ndarray,
        seg_v: np.ndarray,
        *,
        crs: str = "EPSG:32648",
        foot_ok: np.ndarray | None = None,
        bike_ok: np.ndarray | None = None,
        bike_oneway: np.ndarray | None = None,
        steps: np.ndarray | None = None,
        snap_ok: np.ndarray | None = None,
        source: str = "synthetic",
    ) -> StreetNetwork:
        """A network from arrays (synthetic grids, tests). Lengths are straight-line metres."""
        node_xy = np.asarray(node_xy, dtype=np.float64)
        seg_u = np.asarray(seg_u, dtype=np.int64)
        seg_v = np.asarray(seg_v, dtype=np.int64)
        m = len(seg_u)

        def flag(a: np.ndarray | None, default: bool | int) -> np.ndarray:
            return np.full(m, default) if a is None else np.asarray(a)

        return cls(
            crs=crs,
            node_xy=node_xy,
            seg_u=seg_u,
            seg_v=seg_v,
            seg_len_m=np.hypot(*(node_xy[seg_v] - node_xy[seg_u]).T),
            foot_ok=flag(foot_ok, True).astype(bool),
            bike_ok=flag(bike_ok, True).astype(bool),
            bike_oneway=flag(bike_oneway, 0).astype(np.int8),
            steps=flag(steps, False).astype(bool),
            snap_ok=flag(snap_ok, True).astype(bool),
            source=source,
        )


def utm_crs_for(lon: float, lat: float) -> str:
    """The WGS84 UTM zone CRS (``EPSG:326xx``/``327xx``) containing (lon, lat) in degrees."""
    zone = int((lon + 180) // 6) + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def network_from_ways(ways: OsmWays, crs: str | None = None) -> StreetNetwork:
    """Build the segment network from highway ways; ``crs`` defaults to the UTM zone of the data."""
    if len(ways.way_ids) == 0:
        raise EmptyNetworkError(f"{ways.source}: no highway ways found")
    access = [way_access(t) for t in ways.tags]
    n_way_nodes = np.diff(ways.offsets)
    keep_way = np.array([a.foot or a.bike for a in access])
    if not keep_way.any():
        raise EmptyNetworkError(f"{ways.source}: no walkable or cyclable ways found")
    crs = crs or utm_crs_for(float(np.median(ways.lon)), float(np.median(ways.lat)))

    # segments: consecutive way-nodes of the same way
    way_of_node = np.repeat(np.arange(len(n_way_nodes)), n_way_nodes)
    first = np.arange(len(ways.node_ids) - 1)
    same_way = way_of_node[first] == way_of_node[first + 1]
    a = first[same_way & keep_way[way_of_node[first]]]
    b = a + 1
    seg_way = way_of_node[a]

    used = np.unique(np.concatenate([a, b]))
    osm_ids, inverse = np.unique(ways.node_ids[used], return_inverse=True)
    # one coordinate per OSM node (its first occurrence)
    first_pos = np.full(len(osm_ids), -1, dtype=np.int64)
    first_pos[inverse[::-1]] = used[::-1]
    seg_u = inverse[np.searchsorted(used, a)].astype(np.int64)
    seg_v = inverse[np.searchsorted(used, b)].astype(np.int64)

    tr = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = tr.transform(ways.lon[first_pos], ways.lat[first_pos])
    node_xy = np.column_stack([x, y])

    def per_way(attr: str, dtype: type) -> np.ndarray:
        return np.array([getattr(acc, attr) for acc in access], dtype=dtype)[seg_way]

    net = StreetNetwork(
        crs=crs,
        node_xy=node_xy,
        seg_u=seg_u,
        seg_v=seg_v,
        seg_len_m=np.hypot(*(node_xy[seg_v] - node_xy[seg_u]).T),
        foot_ok=per_way("foot", bool),
        bike_ok=per_way("bike", bool),
        bike_oneway=per_way("bike_oneway", np.int8),
        steps=per_way("steps", bool),
        snap_ok=per_way("snap", bool),
        seg_way_id=ways.way_ids[seg_way],
        node_osm_id=osm_ids,
        source=ways.source,
    )
    log.info(
        "network: %d nodes, %d segments, %.1f km (%s)",
        net.n_nodes,
        net.n_segments,
        net.seg_len_m.sum() / 1000,
        crs,
    )
    return net


def load_network(path: Path, crs: str | None = None) -> StreetNetwork:
    """Read an OSM XML/PBF file into a :class:`StreetNetwork` in ``crs`` (default: local UTM zone)."""
    return network_from_ways(read_highway_ways(path), crs)
