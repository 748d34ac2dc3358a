"""The planning workbench at ``/``: its static files (vendored, no CDN: it works offline) and the few
read-only endpoints it needs beside the public ones — the page's settings (``/app/config``), the
communities with their 区 / 街道 / 社区 and resident numbers (``/app/communities``) and an offline base map
(``/app/context``: streets, named main roads and district lines, EPSG:4326)."""

from __future__ import annotations

import gzip
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
import geopandas as gpd
import numpy as np
import shapely
from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response
from shapely.geometry import mapping

from circles import OSM_ATTRIBUTION, __version__
from circles._common import WGS84, jsonable
from circles.io.districts import DISTRICT_EN
from circles.pipeline import PlanResult
from circles.planning.queries import ADMIN_COLUMNS, district_names, districts_in, present_levels
from circles.planning.summary import WEIGHT_LABELS

from ..dependencies import GeoJSONResponse, State
from ..errors import NotFoundError
from ..strict_json import StrictJSONRoute

log = logging.getLogger(__name__)

router = APIRouter(tags=["app"], route_class=StrictJSONRoute)

#: The workbench's own files (HTML, JS, CSS, icons).
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
#: Leaflet, vendored once for the static map and the workbench alike (read-only here).
LEAFLET_DIR = Path(__file__).resolve().parents[2] / "src" / "circles" / "outputs" / "static" / "leaflet"
MEDIA = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
StaticName = Annotated[
    str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.(js|css|png|svg)$")
]
#: The census the resident ESTIMATE spreads (cited where resident numbers are shown).
CENSUS_SOURCE = "2020 census (第七次全国人口普查, NBS county tabulation)"
#: Streets of the context layer are simplified by this many metres (orientation, not routing).
STREET_SIMPLIFY_M = 6.0
#: Coordinates of the context layer are rounded to this many degrees (about 1 m).
CONTEXT_PRECISION_DEG = 1e-5
#: Road classes whose names are drawn on the offline base.
NAMED_ROADS = ("motorway", "trunk", "primary", "secondary", "tertiary")
#: The context layers built so far, keyed by (OSM file, bbox, metric CRS, districts file).
_CONTEXT: dict[tuple[str, tuple[float, ...], str, str], ContextBody] = {}
_CONTEXT_LOCK = threading.Lock()


def _leaflet_dir() -> Path:
    """Leaflet's folder: beside the package source (editable install) or inside the installed package."""
    if LEAFLET_DIR.is_dir():
        return LEAFLET_DIR
    import circles.outputs

    return Path(circles.outputs.__file__).resolve().parent / "static" / "leaflet"


def _file(folder: Path, name: str) -> FileResponse:
    """``folder/name`` (a plain file name: the pattern of :data:`StaticName` keeps it inside)."""
    path = folder / name
    if not path.is_file():
        raise NotFoundError(f"no file {name!r}")
    headers = {"Cache-Control": "no-cache"}
    return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"), headers=headers)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index() -> HTMLResponse:
    """The workbench page."""
    text = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(text, headers={"Cache-Control": "no-cache"})


@router.get("/app/static/{name}", include_in_schema=False)
def static_file(name: StaticName) -> FileResponse:
    return _file(STATIC_DIR, name)


@router.get("/app/leaflet/{name}", include_in_schema=False)
def leaflet_file(name: StaticName) -> FileResponse:
    return _file(_leaflet_dir(), name)


@router.get("/app/leaflet/images/{name}", include_in_schema=False)
def leaflet_image(name: StaticName) -> FileResponse:
    return _file(_leaflet_dir() / "images", name)


@router.get("/app/config")
def app_config(request: Request, state: State) -> dict[str, Any]:
    """What the workbench shows beside the data: region (bbox in WGS84 degrees), weighting, the
    measure (``time``: minutes; ``distance``: walking metres, ``level_walk_m`` per level in minutes), data
    sources, the sample-data note, the districts and 街道 present, and whether edits need a token."""
    res = state.result
    region = res.data.region
    sample = int((res.data.facilities["source"] == "sample").sum())
    comm = res.data.communities
    sources = [OSM_ATTRIBUTION + " (ODbL)", str(region.source)]  # the summary's data_source
    if "residents_estimate" in comm or res.data.weight_kind == "households":
        sources.append(CENSUS_SOURCE)
    if region.districts_path is not None:
        sources.append(f"district outlines: {Path(region.districts_path).name} (display aid, not official)")
    return {
        "title": "15分钟社区生活圈 规划工作台 · 15-minute community life circle workbench",
        "version": __version__,
        "region": {
            "key": region.key,
            "name_zh": region.name_zh,
            "name_en": region.name_en,
            "bbox": list(region.bbox),
        },
        "weight_kind": res.data.weight_kind,
        "weighting": WEIGHT_LABELS.get(res.data.weight_kind, res.data.weight_kind),
        "measure": res.data.measure,
        "level_walk_m": {str(lv.minutes): float(lv.walk_m) for lv in res.data.catalog.level_table},
        "attribution": OSM_ATTRIBUTION,
        "sources": [s for s in dict.fromkeys(sources) if s],
        "sample_facilities": sample,
        "sample_note": (
            f"{sample} facilities are SAMPLE data (示例数据, names marked （示例）), not observed"
            if sample
            else ""
        ),
        "notes": [str(n) for n in res.data.notes],
        "districts": districts_in(res),
        "levels": present_levels(res),
        "streets": _streets(res),
        "write_needs_token": bool(request.app.state.access.configured),
    }


def _streets(res: PlanResult) -> list[dict[str, str]]:
    """The 街道 named by the communities, with their district, sorted."""
    comm = res.data.communities
    if "street" not in comm:
        return []
    dist = district_names(comm["district"]) if "district" in comm else np.full(len(comm), "", dtype=object)
    pairs = {(str(d), s.strip()) for d, s in zip(dist, comm["street"]) if isinstance(s, str) and s.strip()}
    return [{"district": d, "street": s} for d, s in sorted(pairs)]


@router.get("/app/communities")
def app_communities(state: State) -> dict[str, Any]:
    """Every community (table order) with its district, 街道 and 社区 where known, area (m²), residents
    (counted, when the plan has them) and the census-spread resident ESTIMATE (persons; not counted)."""
    res = state.result
    comm = res.data.communities
    n = len(comm)
    dist = district_names(comm["district"]) if "district" in comm else np.full(n, "", dtype=object)

    def column(name: str) -> list[Any]:
        return [jsonable(v) for v in comm[name]] if name in comm else [None] * n

    admin = {
        c: [v.strip() if isinstance(v, str) and v.strip() else None for v in column(c)] for c in ADMIN_COLUMNS
    }
    items = [
        {
            "community_id": str(cid),
            "name": str(name),
            "type": str(kind),
            "district": str(d) or None,
            "street": admin["street"][i],
            "community": admin["community"][i],
            "area_m2": area,
            "residents": residents,
            "residents_estimate": estimate,
        }
        for i, (cid, name, kind, d, area, residents, estimate) in enumerate(
            zip(
                comm["community_id"],
                comm["name"],
                comm["type"],
                dist,
                column("area_m2"),
                column("residents"),
                column("residents_estimate"),
            )
        )
    ]
    return {"total": n, "weight_kind": res.data.weight_kind, "items": items}


@router.get("/app/context", response_class=GeoJSONResponse)
async def app_context(request: Request, state: State) -> Response:
    """The offline base map (EPSG:4326): every street of the network (``kind: street``, merged and
    simplified by :data:`STREET_SIMPLIFY_M` metres), the named main roads (``kind: road``, ``name``,
    ``highway``) and the district outlines and labels (``kind: district`` / ``district_label``).
    Sent gzip-compressed to clients that accept it."""
    body = await anyio.to_thread.run_sync(context_layer, state.result)
    headers = {"Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return Response(body.gzipped, media_type="application/geo+json", headers=headers)
    return Response(body.plain, media_type="application/geo+json", headers=headers)


@dataclass(frozen=True)
class ContextBody:
    """The context FeatureCollection as UTF-8 JSON, plain and gzip-compressed."""

    plain: bytes
    gzipped: bytes


def context_layer(res: PlanResult) -> ContextBody:
    """The context layer of ``res``'s region, built once per OSM file, bbox and districts file."""
    region = res.data.region
    key = (str(region.osm_path), tuple(region.bbox), region.metric_crs, str(region.districts_path or ""))
    with _CONTEXT_LOCK:
        found = _CONTEXT.get(key)
        if found is None:
            feats = _street_features(res) + _road_features(region.osm_path) + _district_features(res)
            fc = {"type": "FeatureCollection", "attribution": OSM_ATTRIBUTION, "features": feats}
            plain = json.dumps(fc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            found = ContextBody(plain, gzip.compress(plain, compresslevel=6, mtime=0))
            _CONTEXT[key] = found
    return found


def _feature(geom: shapely.Geometry, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": mapping(shapely.set_precision(geom, CONTEXT_PRECISION_DEG)),
    }


def _street_features(res: PlanResult) -> list[dict[str, Any]]:
    net = res.data.net
    xy = net.node_xy
    if len(net.seg_u) == 0:
        return []
    lines = shapely.linestrings(np.stack([xy[net.seg_u], xy[net.seg_v]], axis=1))
    # segments meet at shared nodes: merging them needs no noding (a union would take seconds)
    merged = shapely.simplify(shapely.line_merge(shapely.multilinestrings(lines)), STREET_SIMPLIFY_M)
    geom = gpd.GeoSeries([merged], crs=net.crs).to_crs(WGS84).iloc[0]
    return [] if shapely.is_empty(geom) else [_feature(geom, {"kind": "street"})]


def _road_features(osm_path: Path) -> list[dict[str, Any]]:
    """Named main roads of the OSM file (WGS84), merged per name and class; none when unreadable."""
    if not Path(osm_path).is_file():
        return []
    try:
        import osmium

        class Roads(osmium.SimpleHandler):
            def __init__(self) -> None:
                super().__init__()
                self.found: dict[tuple[str, str], list[shapely.LineString]] = {}

            def way(self, w: Any) -> None:
                highway, name = w.tags.get("highway"), w.tags.get("name")
                if highway not in NAMED_ROADS or not name:
                    return
                pts = [(n.lon, n.lat) for n in w.nodes if n.location.valid()]
                if len(pts) >= 2:
                    self.found.setdefault((name, highway), []).append(shapely.LineString(pts))

        roads = Roads()
        roads.apply_file(str(osm_path), locations=True)
    except Exception as e:  # a context layer never stops the workbench
        log.warning("road names not read from %s: %s", osm_path, e)
        return []
    return [
        _feature(shapely.line_merge(shapely.union_all(parts)), {"kind": "road", "name": name, "highway": hw})
        for (name, hw), parts in sorted(roads.found.items())
    ]


def _district_features(res: PlanResult) -> list[dict[str, Any]]:
    """District outlines clipped to the region, with a label point per district mostly inside it."""
    region = res.data.region
    path = region.districts_path
    if path is None or not Path(path).is_file():
        return []
    try:
        d = gpd.read_file(path).to_crs(WGS84)
    except Exception as e:
        log.warning("district outlines not read from %s: %s", path, e)
        return []
    name_col = next((c for c in ("district_name", "short_name", "name") if c in d), None)
    box = shapely.box(*region.bbox)
    d = d[d.intersects(box)]
    if name_col is None or d.empty:
        return []
    feats = []
    for name, geom in zip(d[name_col].astype(str), d.geometry):
        line = shapely.intersection(geom.boundary, box)
        if not shapely.is_empty(line):
            feats.append(_feature(line, {"kind": "district", "name": name}))
        inside = shapely.intersection(geom, box)
        if shapely.area(inside) >= 0.05 * box.area:
            label = f"{name} {DISTRICT_EN.get(name, '')}".strip()
            feats.append(
                _feature(shapely.point_on_surface(inside), {"kind": "district_label", "name": label})
            )
    return feats
