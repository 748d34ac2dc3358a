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
from .access_rules import AccessRules, CrossingDelays, access_rules, country_for_lonlat
from .pedestrian_areas import pedestrian_area_segments

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Profile
    from .graph import ProfileGraph

log = logging.getLogger(__name__)

YES = {"yes", "designated", "permissive", "official"}
NO = {"no", "private", "use_sidepath"}
#: Highway values of ways that are not (or no longer, or not yet) there.
DEAD = {"construction", "proposed", "abandoned", "razed"}
SIDEWALK_YES = {"both", "left", "right", "yes"}
CYCLEWAY_KEYS = ("cycleway", "cycleway:both", "cycleway:left", "cycleway:right")
CYCLEWAY_PRESENT = {"lane", "track", "shared_lane", "opposite_lane", "opposite_track", "yes"}

#: Segments a start point should not snap to (complaint: points snapped to a parking aisle).
NO_SNAP_SERVICE = {"parking_aisle", "driveway", "drive-through"}

#: Road class rank (links as their road), for crossing delays: a walk crosses a road of higher rank.
ROAD_RANK = {
    "motorway": 7,
    "trunk": 6,
    "primary": 5,
    "secondary": 4,
    "tertiary": 3,
    "unclassified": 2,
    "residential": 2,
    "road": 2,
    "living_street": 1,
    "service": 1,
}


@dataclass(frozen=True)
class WayAccess:
    """What one way allows: ``foot`` and ``bike`` usable, ``bike_oneway`` +1 (along the way), -1
    (against it) or 0 (both), ``steps`` is a staircase, ``snap`` may take start points."""

    foot: bool
    bike: bool
    bike_oneway: int
    steps: bool
    snap: bool


def _has_sidewalk(tags: dict[str, str]) -> bool:
    return tags.get("sidewalk", "") in SIDEWALK_YES or any(
        tags.get(f"sidewalk:{side}", "") == "yes" for side in ("both", "left", "right")
    )


def _foot(tags: dict[str, str], hw: str, closed: bool, rules: AccessRules) -> bool:
    foot_tag = tags.get("foot", "")
    if foot_tag in NO:
        return False
    if foot_tag in YES:
        return hw not in DEAD
    if closed:
        return False
    if rules.allows("foot", hw):
        return True
    return hw not in DEAD and _has_sidewalk(tags)


def _bike(tags: dict[str, str], hw: str, closed: bool, rules: AccessRules) -> bool:
    bike_tag = tags.get("bicycle", "")
    if bike_tag in NO or bike_tag == "dismount" or hw == "steps":
        return False
    if bike_tag in YES:
        return hw not in DEAD
    if closed:
        return False
    if rules.allows("bicycle", hw):
        return True
    return hw not in DEAD and any(tags.get(k, "") in CYCLEWAY_PRESENT for k in CYCLEWAY_KEYS)


def way_access(tags: dict[str, str], rules: AccessRules | None = None) -> WayAccess:
    """Decide from OSM tags who may use a way. A specific mode tag (``foot``, ``bicycle``) overrides
    ``access`` as in OSM convention; ``foot=no`` and ``access=no|private`` exclude. Untagged ways follow
    ``rules`` (default: the world default of ``data/access_rules.toml``); a way whose default says no is
    still walkable with a tagged sidewalk and cyclable with a tagged cycle lane or track."""
    rules = rules if rules is not None else access_rules()
    hw = tags.get("highway", "")
    closed = tags.get("access", "") in NO
    foot = _foot(tags, hw, closed, rules)
    bike = _bike(tags, hw, closed, rules)

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
    ``bike_oneway`` (+1 u->v only, -1 v->u only, 0 both), ``steps``, ``snap_ok``. ``seg_delay_s`` (or
    ``None``) is an optional crossing delay per segment, seconds, added to walking time;
    ``access_rules`` names the access rule set the flags were derived with.
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
    seg_delay_s: np.ndarray | None = None
    access_rules: str = ""
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


def _way_segments(ways: OsmWays, keep_way: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in ``ways.node_ids``) of the first node of each segment of a kept way, and its way."""
    way_of_node = np.repeat(np.arange(len(ways.offsets) - 1), np.diff(ways.offsets))
    first = np.arange(len(ways.node_ids) - 1)
    same_way = way_of_node[first] == way_of_node[first + 1]
    a = first[same_way & keep_way[way_of_node[first]]]
    return a, way_of_node[a]


def _pick_rules(ways: OsmWays, country: str | None, rules: AccessRules | None) -> AccessRules:
    """``rules``, else the rule set of ``country``, else of the country found from the ways' median."""
    if rules is None:
        if country is None and len(ways.lon):
            country = country_for_lonlat(float(np.median(ways.lon)), float(np.median(ways.lat)))
        rules = access_rules(country)
    log.info("access rules %s for %s", rules.label, ways.source or "the ways")
    return rules


def network_from_ways(
    ways: OsmWays,
    crs: str | None = None,
    *,
    country: str | None = None,
    rules: AccessRules | None = None,
    crossings: CrossingDelays | None = None,
    pedestrian_areas: bool = True,
) -> StreetNetwork:
    """Build the segment network from highway ways; ``crs`` defaults to the UTM zone of the data.

    Access follows ``rules`` or, when not given, the rule set of ``country`` (ISO 3166-1 alpha-2; found
    from the ways' coordinates when ``None``). ``pedestrian_areas`` adds crossing segments inside
    pedestrian squares (:mod:`circles.routing.pedestrian_areas`); ``crossings`` adds crossing delays.
    """
    if len(ways.way_ids) == 0:
        raise EmptyNetworkError(f"{ways.source}: no highway ways found")
    rules = _pick_rules(ways, country, rules)
    access = [way_access(t, rules) for t in ways.tags]
    keep_way = np.array([a.foot or a.bike for a in access])
    if not keep_way.any():
        raise EmptyNetworkError(f"{ways.source}: no walkable or cyclable ways found")
    crs = crs or utm_crs_for(float(np.median(ways.lon)), float(np.median(ways.lat)))

    a, seg_way = _way_segments(ways, keep_way)
    b = a + 1
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
    if pedestrian_areas:
        foot_way = np.array([acc.foot for acc in access])
        au, av, aw = pedestrian_area_segments(ways, foot_way, osm_ids, node_xy)
        seg_u, seg_v, seg_way = (np.concatenate(p) for p in ((seg_u, au), (seg_v, av), (seg_way, aw)))

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
        access_rules=rules.key,
    )
    if crossings is not None:
        highway = [t.get("highway", "") for t in ways.tags]
        net.seg_delay_s = crossing_delay_s(
            net, [highway[w] for w in seg_way], ways.signal_node_ids, crossings
        )
    log.info(
        "network: %d nodes, %d segments, %.1f km (%s)",
        net.n_nodes,
        net.n_segments,
        net.seg_len_m.sum() / 1000,
        crs,
    )
    return net


def crossing_delay_s(
    net: StreetNetwork, seg_highway: list[str], signal_node_ids: np.ndarray, delays: CrossingDelays
) -> np.ndarray:
    """Per-segment crossing delay, seconds: where a walk passes a junction (3+ segments) by segments of
    a lower road class than the highest there, it crosses that road; half the delay goes on each of the
    two segments it uses, so passing through costs the full delay and walking along the crossed road
    costs nothing. The delay is ``signal_s`` at a node in ``signal_node_ids`` (where all classes are
    equal, every segment of a signalised junction waits) and ``major_road_s`` where the crossed road is
    major; the larger applies."""
    rank = np.array([ROAD_RANK.get(h.removesuffix("_link"), 0) for h in seg_highway], dtype=np.int64)
    major = np.array([delays.is_major(h) for h in seg_highway], dtype=bool)
    n = net.n_nodes
    ends = np.concatenate([net.seg_u, net.seg_v])
    rank2 = np.concatenate([rank, rank])
    degree = np.bincount(ends, minlength=n)
    top = np.zeros(n, np.int64)
    np.maximum.at(top, ends, rank2)
    low = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(low, ends, rank2)
    touches_major = np.zeros(n, bool)
    touches_major[ends[np.concatenate([major, major])]] = True
    signal = np.isin(net.node_osm_id, signal_node_ids) if net.node_osm_id is not None else np.zeros(n, bool)
    delay = np.zeros(net.n_segments)
    for end in (net.seg_u, net.seg_v):
        junction = degree[end] >= 3
        lower = rank < top[end]
        sig = junction & signal[end] & (lower | (low[end] == top[end]))
        crosses_major = junction & touches_major[end] & lower
        delay += 0.5 * np.maximum(sig * delays.signal_s, crosses_major * delays.major_road_s)
    log.info(
        "crossing delays: %d segments delayed (signals %.0f s, major roads %.0f s)",
        int((delay > 0).sum()),
        delays.signal_s,
        delays.major_road_s,
    )
    return delay


def load_network(
    path: Path,
    crs: str | None = None,
    *,
    country: str | None = None,
    rules: AccessRules | None = None,
    crossings: CrossingDelays | None = None,
) -> StreetNetwork:
    """Read an OSM XML/PBF file into a :class:`StreetNetwork` in ``crs`` (default: local UTM zone), with
    the access rules of ``country`` (default: found from the data) unless ``rules`` are given."""
    return network_from_ways(read_highway_ways(path), crs, country=country, rules=rules, crossings=crossings)
