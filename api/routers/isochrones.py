"""``/isochrones``: the same FeatureCollection as ``circles isochrone``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from circles.config import get_profile
from circles.routing.isochrones import isochrones_text_at, parse_minutes

from ..dependencies import GeoJSONResponse, State
from ..strict_json import StrictJSONRoute

router = APIRouter(tags=["routing"], route_class=StrictJSONRoute)


@router.get("/isochrones", response_class=GeoJSONResponse)
def get_isochrones(
    state: State,
    lon: Annotated[float, Query(ge=-180, le=180, description="WGS84 longitude, degrees")],
    lat: Annotated[float, Query(ge=-90, le=90, description="WGS84 latitude, degrees")],
    minutes: Annotated[str, Query(max_length=64, description="thresholds, comma-separated")] = "5,10,15",
    profile: Annotated[str, Query(max_length=32)] = "walk",
) -> Response:
    """Nested isochrones (EPSG:4326), one feature per threshold, with minutes, profile, area_m2, street_m."""
    res = state.result
    _, text = isochrones_text_at(  # the JSON text written directly: what GeoJSONResponse would send
        res.data.net,
        get_profile(profile),
        lon,
        lat,
        parse_minutes(minutes),
        bbox=res.data.region.bbox,
        where=f"region {res.data.region.key}",
        max_snap_m=state.settings.max_snap_m,
    )
    return Response(text.encode("utf-8"), media_type=GeoJSONResponse.media_type)
