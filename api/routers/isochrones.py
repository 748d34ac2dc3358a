"""``/isochrones``: the same FeatureCollection as ``circles isochrone``."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response

from circles.config import get_profile
from circles.routing.isochrones import isochrones_text_at, parse_minutes

from ..dependencies import GeoJSONResponse, State
from ..strict_json import StrictJSONRoute

router = APIRouter(tags=["routing"], route_class=StrictJSONRoute)

#: Requests reaching at most this far (largest minutes x profile speed, metres) are answered on the
#: event loop while no quick read is in progress: a few milliseconds of work (15 walking minutes: about
#: 1.6 ms in central Chengdu), less than a hop to a worker thread and back costs under load. Farther
#: ones, and any while quick reads are in progress, go to a worker thread so they do not hold those up.
INLINE_MAX_REACH_M = 1500.0

#: one threshold: a number of minutes in (0, 180], plain decimal notation (leading zeros allowed)
_MINUTE = r"0*(?:180(?:\.0*)?|1[0-7][0-9](?:\.[0-9]*)?|[1-9][0-9]?(?:\.[0-9]*)?|\.[0-9]*[1-9][0-9]*)"
#: what ``minutes`` accepts (:func:`~circles.routing.isochrones.parse_minutes` takes a little more:
#: exponents, empty items), so every value the schema allows is answered
MINUTES_PATTERN = rf"^ *{_MINUTE} *(?:, *{_MINUTE} *)*$"


def _quick_reads_waiting(request: Request) -> bool:
    """Whether quick reads are in progress on this worker (:class:`api.admission.RequestLoad`): an
    isochrone computed on the event loop would hold them up for its few milliseconds."""
    load = getattr(request.app.state, "load", None)
    return load is not None and load.quick > 0


@router.get("/isochrones", response_class=GeoJSONResponse)
async def get_isochrones(
    request: Request,
    state: State,
    lon: Annotated[float, Query(ge=-180, le=180, description="WGS84 longitude, degrees")],
    lat: Annotated[float, Query(ge=-90, le=90, description="WGS84 latitude, degrees")],
    minutes: Annotated[
        str,
        Query(
            max_length=64,
            pattern=MINUTES_PATTERN,
            description="thresholds in minutes, comma-separated, each above 0 and at most 180 (e.g. 5,10,15)",
        ),
    ] = "5,10,15",
    profile: Annotated[str, Query(max_length=32)] = "walk",
) -> Response:
    """Nested isochrones (EPSG:4326), one feature per threshold, with minutes, profile, area_m2, street_m."""
    res = state.result
    prof = get_profile(profile)
    mins = parse_minutes(minutes)
    work = partial(
        isochrones_text_at,  # the JSON text written directly: what GeoJSONResponse would send
        res.data.net,
        prof,
        lon,
        lat,
        mins,
        bbox=res.data.region.bbox,
        where=f"region {res.data.region.key}",
        max_snap_m=state.settings.max_snap_m,
    )
    if max(mins) * 60.0 * prof.speed_m_s <= INLINE_MAX_REACH_M and not _quick_reads_waiting(request):
        _, text = work()
    else:
        _, text = await anyio.to_thread.run_sync(work)
    return Response(text.encode("utf-8"), media_type=GeoJSONResponse.media_type)
