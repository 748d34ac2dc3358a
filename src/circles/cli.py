"""Command-line interface: ``circles isochrone``, ``circles network``, ``circles plan`` …

Every command turns a :class:`~circles.errors.CirclesError` into one line on stderr and exit code 2;
no traceback reaches the user for bad input.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import CirclesError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="15-minute community life circle planner.")
log = logging.getLogger("circles")


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def friendly(fn):
    """Report library errors (and unreadable files) as one line and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CirclesError as e:
            _fail(str(e))
        except (PermissionError, IsADirectoryError, FileNotFoundError) as e:
            _fail(f"{e.strerror}: {e.filename}")
        except MemoryError:
            _fail("out of memory")

    return wrapper


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr.")) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _write_json(obj: dict, out: Path) -> None:
    out = Path(out)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    tmp.replace(out)


@app.command()
@friendly
def isochrone(
    lon: float = typer.Option(..., help="Start longitude, WGS84 degrees."),
    lat: float = typer.Option(..., help="Start latitude, WGS84 degrees."),
    minutes: str = typer.Option("5,10,15", help="Thresholds in minutes, comma-separated."),
    profile: str = typer.Option("walk", help="Travel profile: walk, elderly, wheelchair, bike."),
    region: Optional[str] = typer.Option(None, help="Registered region (default chengdu-central)."),
    osm: Optional[Path] = typer.Option(None, help="Any OSM XML or PBF file instead of a region."),
    max_snap_m: float = typer.Option(500.0, help="Largest distance from the point to a street, metres."),
    buffer_m: float = typer.Option(50.0, help="Distance off a reached street counted as reached, metres."),
    out: Path = typer.Option(..., help="Output GeoJSON (EPSG:4326)."),
) -> None:
    """Walking (or cycling) isochrones from one point: nested polygons, one feature per threshold."""
    from .isochrones import isochrones as make_isochrones, parse_minutes, to_feature_collection
    from .regions import check_inside, open_network, profile_graph

    if region and osm:
        raise CirclesError("give either --region or --osm, not both")
    mins = parse_minutes(minutes)
    from .config import get_profile

    prof = get_profile(profile)
    from .regions import check_lonlat

    check_lonlat(lon, lat)
    net, bbox, label = open_network(region, osm)
    check_inside(lon, lat, bbox, label)
    graph = profile_graph(net, prof)
    snap = graph.snap(net.project(lon, lat), max_snap_m=max_snap_m)
    isos = make_isochrones(graph, snap, mins, buffer_m=buffer_m)
    fc = to_feature_collection(isos, graph, lon=lon, lat=lat, snap_m=round(float(snap.offstreet_m[0]), 1))
    _write_json(fc, out)
    for iso in isos:
        typer.echo(f"{iso.minutes:g} min {prof.name}: {iso.area_m2 / 1e6:.3f} km², {iso.street_m / 1000:.2f} km of street")
    typer.echo(f"wrote {out} (snapped {snap.offstreet_m[0]:.0f} m to the street; © OpenStreetMap contributors)")


@app.command()
@friendly
def network(
    region: Optional[str] = typer.Option(None, help="Registered region (default chengdu-central)."),
    osm: Optional[Path] = typer.Option(None, help="Any OSM XML or PBF file instead of a region."),
    profile: str = typer.Option("walk", help="Travel profile."),
) -> None:
    """Network summary and data-quality report: size, disconnected islands."""
    from .regions import open_network, profile_graph

    net, bbox, label = open_network(region, osm)
    g = profile_graph(net, profile)
    rep = {
        "network": label,
        "crs": net.crs,
        "nodes": net.n_nodes,
        "segments": int(g.usable.sum()),
        "street_km": round(float(net.seg_len_m[g.usable].sum()) / 1000, 2),
        "profile": g.profile.name,
        "islands": g.islands.as_dict(),
    }
    typer.echo(json.dumps(rep, ensure_ascii=False, indent=2))


def run() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
