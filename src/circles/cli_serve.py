"""``circles serve``: the HTTP API (OpenAPI docs at /docs) on the region or the planner's own data.

Options left out fall back to the ``CIRCLES_*`` variables (:class:`api.settings.Settings`); every
input is read once and the port checked before the server starts, so a bad input is one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from . import cli_inputs as ci
from .config import DEFAULT_REGION, get_region
from .errors import InputError
from .measures import check_measure
from .routing.access_rules import check_country


def serve(
    region: str | None = typer.Option(
        None, help=f"Registered region (default $CIRCLES_REGION or {DEFAULT_REGION})."
    ),
    osm: ci.Osm = None,
    country: ci.Country = None,
    communities: ci.Communities = None,
    facilities: ci.Facilities = None,
    population: ci.Population = None,
    no_crs_check: ci.NoCrsCheck = False,
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(
        1, min=1, max=64, help="Worker processes sharing one state folder (SQLite store, kept in sync)."
    ),
    state_dir: Path | None = typer.Option(
        None,
        help="Folder of the facility-edit database and exports (default $CIRCLES_STATE_DIR or out/service).",
    ),
    measure: str | None = typer.Option(
        None,
        "--measure",
        help="time (minutes) or distance (walking metres per level, GB 50180-2018); default $CIRCLES_MEASURE "
        "or time.",
    ),
) -> None:
    """Start the HTTP API (OpenAPI docs at /docs) on the region or the planner's own data, loaded once at
    start-up. Options left out fall back to the CIRCLES_* environment variables."""
    from api.main import run_server
    from api.settings import Settings

    from .pipeline import load_plan_data

    given: dict[str, Any] = {
        "region": region,
        "osm": osm,
        "communities": communities,
        "facilities": list(facilities) if facilities else None,
        "population": population,
        "state_dir": state_dir,
        "crs_check": False if no_crs_check else None,
        "measure": check_measure(measure) if measure is not None else None,
        "country": check_country(country),
    }
    settings = Settings(**{k: v for k, v in given.items() if v is not None})  # one-line SettingsError
    opts = settings.plan_options()  # a bad file spec or region fails here, before the server starts
    if opts.osm is None:
        get_region(opts.region)
    # every input read once here: a missing extract, file or bad coordinate system is one line now,
    # not a traceback from each worker's start-up (~1 s on the default region)
    load_plan_data(opts)
    _check_port_free(host, port)
    run_server(settings, host=host, port=port, workers=workers)


def _check_port_free(host: str, port: int) -> None:
    """An :class:`InputError` when ``host:port`` cannot be listened on (in use, or not an address of
    this machine): one line here instead of the server's log after loading."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
            probe.bind(infos[0][4])
    except OSError as e:
        raise InputError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
