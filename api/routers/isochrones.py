"""``/isochrones``: the same FeatureCollection as ``circles isochrone``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from circles.config import get_profile
from circles.routing.isochrones import isochrones, parse_minutes, to_feature_collection
from circles.routing.load import check_inside, profile_graph

from ..dependencies import GeoJSONResponse, get_state
from ..state import ServiceState

router = APIRouter(tags=["routing"])


@router.get("/isochrones", response_class=GeoJSONResponse)
def get_isochrones(
    state: Annotated[ServiceState, Depends(get_state)],
    lon: Annotated[float, Query(ge=-180, le=180, description="WGS84 longitude, degrees")],
    lat: Annotated[float, Query(ge=-90, le=90, description="WGS84 latitude, degrees")],
    minutes: Annotated[str, Query(max_length=64, description="thresholds, comma-separated")] = "5,10,15",
    profile: Annotated[str, Query(max_length=32)] = "walk",
) -> GeoJSONResponse:
    """Nested isochrones (EPSG:4326), one feature per threshold, with minutes, profile, area_m2, street_m."""
    res = state.result
    mins = parse_minutes(minutes)
    prof = get_profile(profile)
    check_inside(lon, lat, res.data.region.bbox, f"region {res.data.region.key}")
    graph = profile_graph(res.data.net, prof)
    snap = graph.snap(res.data.net.project(lon, lat), max_snap_m=state.settings.max_snap_m)
    fc = to_feature_collection(
        isochrones(graph, snap, mins), graph, lon=lon, lat=lat, snap_m=round(float(snap.offstreet_m[0]), 1)
    )
    return GeoJSONResponse(fc)
