"""Command-line interface: ``circles isochrone``, ``circles network``, ``circles plan`` …

Every command turns a :class:`~circles.errors.CirclesError` into one line on stderr and exit code 2;
no traceback reaches the user for bad input. Usage errors (a bad option value, a missing option) are one
line too (``error: circles sites: Invalid value for '--k' …``), and so is an unexpected failure (its
traceback with ``--verbose``).
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer

from . import cli_inputs as ci
from .cli_errors import OneLineErrors
from .config import DEFAULT_REGION
from .errors import CirclesError, InputError
from .measures import check_measure
from .routing.access_rules import check_country

P = ParamSpec("P")
R = TypeVar("R")


app = OneLineErrors(
    add_completion=False, no_args_is_help=True, help="15-minute community life circle planner."
)
log = logging.getLogger("circles")


def _fail(msg: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def friendly(fn: Callable[P, R]) -> Callable[P, R]:
    """Report library errors (and unreadable files) as one line and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CirclesError as e:
            _fail(str(e))
        except OSError as e:
            where = str(e.filename or "").removesuffix(".tmp")
            _fail(f"{e.strerror or e}: {where}" if where else str(e))
        except MemoryError:
            _fail("out of memory")

    return wrapper


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr.")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def _check_out_file(out: Path, force: bool = False) -> Path:
    """An output file path: not an existing directory, and not an existing file unless ``force``."""
    out = Path(out)
    if out.is_dir():
        raise InputError(f"--out {out} is a directory; give a file name")
    if out.exists() and not force:
        raise InputError(f"--out {out} exists; pass --force to overwrite it")
    return out


def _check_out_folder(out: Path, names: tuple[str, ...], force: bool) -> None:
    """A folder for several outputs: not a file; existing outputs in it only replaced with ``force``."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the plan outputs")
    existing = [n for n in names if (out / n).exists()]
    if existing and not force:
        raise InputError(
            f"--out {out} already holds {', '.join(existing[:4])}{' …' if len(existing) > 4 else ''}; "
            "pass --force to overwrite"
        )


def _positive(value: float, name: str, upper: float) -> float:
    if not (0 < value <= upper):  # also false for NaN
        raise InputError(f"{name} must be a number in (0, {upper:g}], got {value}")
    return value


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
    region: str | None = typer.Option(None, help=f"Registered region (default {DEFAULT_REGION})."),
    osm: Path | None = typer.Option(None, help="Any OSM XML or PBF file instead of a region."),
    country: ci.Country = None,
    max_snap_m: float = typer.Option(500.0, help="Largest distance from the point to a street, metres."),
    buffer_m: float = typer.Option(50.0, help="Distance off a reached street counted as reached, metres."),
    exact_polygon: bool = typer.Option(
        False,
        "--exact-polygon",
        help="Merge buffered street pieces with GEOS (the exact vector method, slower) instead of "
        "contouring the exact distance field on a 20 m grid.",
    ),
    out: Path = typer.Option(..., help="Output GeoJSON (EPSG:4326)."),
    measure: ci.Measure = "time",
    walk_m: str | None = typer.Option(
        None,
        "--walk-m",
        help="With --measure distance: thresholds in metres of network distance, comma-separated "
        "(default: the catalog's level distances, 300,500,1000).",
    ),
    force: ci.Force = False,
) -> None:
    """Walking (or cycling) isochrones from one point: nested polygons, one feature per threshold (minutes,
    or metres of network distance with --measure distance)."""
    from .config import get_profile
    from .measures import distance_profile
    from .routing.isochrones import isochrones_at, parse_minutes
    from .routing.load import check_lonlat, open_network

    if region and osm:
        raise CirclesError("give either --region or --osm, not both")
    _check_out_file(out, force)
    _positive(max_snap_m, "--max-snap-m", 10_000)
    _positive(buffer_m, "--buffer-m", 1_000)
    check_measure(measure)
    if walk_m is not None and measure != "distance":
        raise InputError("--walk-m needs --measure distance")
    metres = _metres(walk_m) if measure == "distance" else []
    # a distance is searched as the time on the profile's 1 m/s twin: its "minutes" are metres / 60
    mins = [m / 60.0 for m in metres] if measure == "distance" else parse_minutes(minutes)
    prof = get_profile(profile)
    check_lonlat(lon, lat)
    net, bbox, label = open_network(region, osm, country=check_country(country))
    isos, fc = isochrones_at(
        net,
        distance_profile(prof) if measure == "distance" else prof,
        lon,
        lat,
        mins,
        bbox=bbox,
        where=label,
        max_snap_m=max_snap_m,
        buffer_m=buffer_m,
        method="exact" if exact_polygon else "raster",
    )
    _label_measure(fc, measure)
    _write_json(fc, out)
    for iso in isos:
        reach = f"{iso.minutes * 60:g} m" if measure == "distance" else f"{iso.minutes:g} min"
        typer.echo(
            f"{reach} {prof.name}: {iso.area_m2 / 1e6:.3f} km², {iso.street_m / 1000:.2f} km of street"
        )
    snap_m = fc["features"][0]["properties"]["snap_m"] if fc["features"] else 0.0
    typer.echo(f"wrote {out} (snapped {snap_m:.0f} m to the street; © OpenStreetMap contributors)")


def _metres(text: str | None) -> list[float]:
    """Distance thresholds (metres) from ``--walk-m`` text, default the catalog's level distances."""
    if text is None:
        from .catalog import load_catalog

        return [float(lv.walk_m) for lv in load_catalog().level_table]
    try:
        values = sorted(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InputError(f"--walk-m must be numbers separated by commas, got {text!r}") from None
    if not values or not all(0 < v <= 20_000 for v in values):
        raise InputError(f"--walk-m must be distances in (0, 20000] metres, got {text!r}")
    return values


def _label_measure(fc: dict[str, Any], measure: str) -> None:
    """Each isochrone feature says its measure; a distance one its threshold as ``walk_m`` (metres) instead
    of ``minutes``."""
    for feat in fc["features"]:
        props = feat["properties"]
        if measure == "distance":
            props["walk_m"] = round(float(props.pop("minutes")) * 60.0, 3)
        props["measure"] = measure


@app.command()
@friendly
def network(
    region: str | None = typer.Option(None, help=f"Registered region (default {DEFAULT_REGION})."),
    osm: Path | None = typer.Option(None, help="Any OSM XML or PBF file instead of a region."),
    country: ci.Country = None,
    profile: str = typer.Option("walk", help="Travel profile."),
) -> None:
    """Network summary and data-quality report: size, disconnected islands."""
    from .routing.load import open_network, profile_graph

    net, bbox, label = open_network(region, osm, country=check_country(country))
    g = profile_graph(net, profile)
    rep = {
        "network": label,
        "crs": net.crs,
        "access_rules": net.access_rules,  # the country rule set of data/access_rules.toml used
        "nodes": net.n_nodes,
        "segments": int(g.usable.sum()),
        "street_km": round(float(net.seg_len_m[g.usable].sum()) / 1000, 2),
        "profile": g.profile.name,
        "islands": g.islands.as_dict(),
    }
    typer.echo(json.dumps(rep, ensure_ascii=False, indent=2))


@app.command()
@friendly
def plan(
    out: Path = typer.Option(..., help="Output folder."),
    region: ci.Region = DEFAULT_REGION,
    osm: ci.Osm = None,
    country: ci.Country = None,
    download: ci.Download = False,
    communities: ci.Communities = None,
    facilities: ci.Facilities = None,
    population: ci.Population = None,
    no_crs_check: ci.NoCrsCheck = False,
    category: list[str] | None = typer.Option(
        None, help="Only these categories (repeatable; key or Chinese name, e.g. canteen or 社区食堂)."
    ),
    no_osm_facilities: bool = typer.Option(False, help="Do not take facilities from the OSM extract."),
    sample: bool | None = typer.Option(
        None,
        "--sample/--no-sample",
        help="Include the region's SAMPLE facility layer (default: only without --facilities).",
    ),
    spacing_m: float = typer.Option(50.0, help="Spacing of resident points inside communities, metres."),
    map_: bool = typer.Option(True, "--map/--no-map", help="Also write the coverage map (map.html)."),
    measure: ci.Measure = "time",
    force: ci.Force = False,
    legacy_crs: ci.LegacyCrs = None,
) -> None:
    """Coverage of every community by every facility category, the gap list (CSV, Excel, GeoJSON) and
    the region summary."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .cli_report import print_summary, print_worst_gaps
    from .outputs.plan_files import write_outputs
    from .pipeline import load_plan_data, run_plan

    ci.refuse_legacy_crs(legacy_crs)
    opts = ci.plan_options(
        region,
        osm,
        download,
        communities,
        facilities,
        population,
        no_crs_check,
        categories=list(category) if category else None,
        osm_facilities=not no_osm_facilities,
        sample_facilities=sample,
        spacing_m=spacing_m,
        measure=measure,
        country=country,
    )
    from .outputs.plan_files import PLAN_FILE_NAMES

    _check_out_folder(out, (*PLAN_FILE_NAMES, "map.html"), force)
    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=150)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("loading", total=None)
        data = load_plan_data(opts, lambda s: bar.update(task, description=f"loading {s}"))
        result = run_plan(data, opts, lambda s: bar.update(task, description=f"coverage: {s}"))
        bar.update(task, description="writing outputs")
        paths = write_outputs(result, out)
        if map_:
            try:
                from .outputs.webmap import write_map
            except ImportError:
                pass
            else:
                paths["map.html"] = write_map(result, out / "map.html")
    print_summary(result.summary, console)
    print_worst_gaps(result.gaps, result.summary["weight_kind"], console)
    typer.echo(f"wrote {', '.join(str(p) for p in paths.values())}")


@app.command()
@friendly
def sites(
    category: str = typer.Option(
        ..., help="Facility category: key, Chinese name or alias, e.g. canteen or 社区食堂."
    ),
    out: Path = typer.Option(
        ...,
        help="Output file: .gpkg (GeoPackage), .shp.zip (zipped Shapefiles), .geojson or .dxf (CAD drawing, "
        "in metres).",
    ),
    crs: str | None = typer.Option(
        None,
        "--crs",
        help="Coordinate system of the export: wgs84 (EPSG:4326, default), cgcs2000 (EPSG:4490), "
        "cgcs2000-gk (the region's CGCS2000 3-degree Gauss-Kruger zone, EPSG:4534-4554; default for .dxf), "
        "gcj02 (for 高德/腾讯 base maps, marked as such) or EPSG:n.",
    ),
    k: int = typer.Option(5, "--k", min=1, help="Choose at most this many new sites."),
    candidates: str | None = typer.Option(
        None,
        help=f"Your candidate sites, {ci.FILE_SYNTAX}: points or polygons (GeoJSON/GPKG/SHP, or "
        "Excel/CSV with lon/lat); optional site_id, name, kind, area_m2, usable (可用: yes/no overrides the "
        "suitability rules) and reason.",
    ),
    osm_candidates: bool = typer.Option(
        True,
        "--osm-candidates/--no-osm-candidates",
        help="Also offer the OSM extract's sites (parking, vacant land, small green spaces, markets…).",
    ),
    overrides: Path | None = typer.Option(
        None,
        help="CSV/Excel of your verdicts on candidates: site_id, usable (yes/no, 是/否), reason; they win "
        "over the suitability rules of data/site_rules.toml.",
    ),
    region: ci.Region = DEFAULT_REGION,
    osm: ci.Osm = None,
    country: ci.Country = None,
    download: ci.Download = False,
    communities: ci.Communities = None,
    facilities: ci.Facilities = None,
    population: ci.Population = None,
    no_crs_check: ci.NoCrsCheck = False,
    time_limit: float = typer.Option(
        60.0,
        help="MILP time limit, seconds; past it the best solution found is reported with its gap "
        "to the bound.",
    ),
    measure: ci.Measure = "time",
    force: ci.Force = False,
    legacy_crs: ci.LegacyInputCrs = None,
) -> None:
    """Choose up to k candidate micro-renewal sites (金角银边) that newly cover the most residents within
    the category's threshold (maximal covering, existing facilities fixed) and export them for GIS/CAD."""
    from .io.candidates import read_site_overrides
    from .io.file_spec import parse_file_spec
    from .outputs.export import export, export_format
    from .outputs.export_crs import check_crs_spec
    from .pipeline import load_plan_data, run_plan
    from .planning.candidates import candidate_sites
    from .planning.sites import choose_sites

    fmt = export_format(out)  # a wrong file ending fails before any work
    ci.refuse_legacy_crs(legacy_crs)
    check_crs_spec(crs, fmt)  # a bad --crs (or degrees for a drawing) fails before any work too
    _check_out_file(out, force)
    verdicts = read_site_overrides(overrides) if overrides is not None else None
    opts = ci.plan_options(
        region,
        osm,
        download,
        communities,
        facilities,
        population,
        no_crs_check,
        measure=measure,
        country=country,
    )
    cand_spec = parse_file_spec(candidates) if candidates else None
    data = load_plan_data(opts)
    category = data.catalog.resolve(category).key  # 社区食堂 -> canteen; unknown: the accepted names
    result = run_plan(data, opts)
    cands = candidate_sites(result, cand_spec, osm=osm_candidates, crs_check=opts.crs_check)
    if len(cands) == 0:
        raise CirclesError("no candidate sites: give --candidates or allow --osm-candidates")
    choice = choose_sites(result, category, k, cands, time_limit_s=time_limit, overrides=verdicts)
    path = export(result, out, sites=choice, crs=crs)
    for line in choice.describe():
        typer.echo(line)
    n_usable = int(choice.candidates["usable"].sum()) if len(choice.candidates) else 0
    typer.echo(
        f"wrote {path} ({fmt}; {len(cands)} candidates tested, {n_usable} usable; "
        "© OpenStreetMap contributors)"
    )


@app.command()
@friendly
def gaps(
    out: Path = typer.Option(
        ..., help="Output .xlsx (Chinese and English headers) or .csv (UTF-8 with BOM)."
    ),
    category: list[str] | None = typer.Option(
        None, help="Categories (repeatable; key or Chinese name, e.g. 社区食堂). Default: every category."
    ),
    minutes: float | None = typer.Option(
        None, help="Judge coverage within this many minutes (any category; default: each category's own)."
    ),
    walk_m: float | None = typer.Option(
        None,
        "--walk-m",
        help="Judge coverage within this network distance, metres (any category; instead of --minutes).",
    ),
    measure: ci.Measure = "time",
    group_by: str = typer.Option(
        "compound", help="compound (each community row), community (社区), street (街道) or district (区)."
    ),
    district: str | None = typer.Option(None, help="Only this district (成华, 成华区 or Chenghua)."),
    region: ci.Region = DEFAULT_REGION,
    osm: ci.Osm = None,
    country: ci.Country = None,
    download: ci.Download = False,
    communities: ci.Communities = None,
    facilities: ci.Facilities = None,
    population: ci.Population = None,
    no_crs_check: ci.NoCrsCheck = False,
    force: ci.Force = False,
    legacy_crs: ci.LegacyCrs = None,
) -> None:
    """The gap list (配套缺失清单) in the planner's units: "which communities lack a canteen within 10
    minutes", per 小区, or rolled up per 社区 / 街道 / 区, as Excel or CSV."""
    from .outputs.plan_files import workbook_meta
    from .outputs.tables import (
        GAP_COLUMNS,
        ROLLUP_COLUMNS,
        Column,
        Sheet,
        columns_for,
        readme_lines,
        write_csv,
        write_xlsx,
    )
    from .pipeline import plan as run_plan_all
    from .planning import queries
    from .planning.rollup import GROUP_LEVELS

    ci.refuse_legacy_crs(legacy_crs)
    suffix = out.name.lower().rsplit(".", 1)[-1]
    if suffix not in ("xlsx", "csv"):
        raise InputError(f"--out {out.name}: write .xlsx or .csv")
    if group_by not in GROUP_LEVELS:
        raise InputError(f"--group-by must be one of {', '.join(GROUP_LEVELS)}, not {group_by!r}")
    _check_out_file(out, force)
    if minutes is not None and walk_m is not None:
        raise InputError("give --minutes or --walk-m, not both")
    opts = ci.plan_options(
        region,
        osm,
        download,
        communities,
        facilities,
        population,
        no_crs_check,
        measure=measure,
        country=country,
    )
    opts.categories = list(category) if category else None
    result = run_plan_all(opts)
    keys = opts.categories or queries.planned_categories(result)
    rows = None
    if district is not None:
        name = queries.resolve_district_in(result, district)
        rows = queries.district_names(result.data.communities["district"]) == name
    if group_by == "compound":
        table = queries.with_admin_columns(result, queries.gaps_at(result, minutes, keys, walk_m=walk_m))
        if rows is not None:
            table = table[table["district"].isin(result.data.communities.loc[rows, "district"])]
        columns: tuple[Column, ...] = columns_for(table, GAP_COLUMNS)
    else:
        table = queries.rollup_at(result, group_by, keys, minutes=minutes, walk_m=walk_m, rows=rows)
        columns = (Column("category", "category", "设施类别", "category"), *ROLLUP_COLUMNS)
    if suffix == "csv":
        write_csv(table, columns, out)
    else:
        meta = workbook_meta(result)
        within = (
            f"within {minutes:g} min"
            if minutes
            else f"within {walk_m:g} m"
            if walk_m
            else f"at each category's own threshold ({measure})"
        )
        meta["notes"] = [f"coverage judged {within}; grouped by {group_by}", *meta["notes"]]
        write_xlsx([Sheet(f"{group_by} gaps", table, columns)], readme_lines(meta), out)
    typer.echo(
        f"wrote {out} ({len(table)} rows; {result.summary['weighting']}; © OpenStreetMap contributors)"
    )


@app.command("map")
@friendly
def map_cmd(
    out: Path | None = typer.Option(
        None, help="Output HTML file, e.g. maps/chengdu-central.html (optional with --pdf/--png)."
    ),
    region: ci.Region = DEFAULT_REGION,
    osm: ci.Osm = None,
    country: ci.Country = None,
    download: ci.Download = False,
    communities: ci.Communities = None,
    facilities: ci.Facilities = None,
    population: ci.Population = None,
    no_crs_check: ci.NoCrsCheck = False,
    category: list[str] | None = typer.Option(
        None,
        help="Facility category (repeatable; the first is switched on when the map opens). "
        "Default: every category, with canteen switched on.",
    ),
    minutes: int = typer.Option(
        10, help="Level (5, 10 or 15 min) whose covered share shades the communities."
    ),
    tiles: str = typer.Option(
        "none",
        help="Base map: none (works offline), osm, amap (高德, GCJ-02: layers are "
        "shifted to match) or a tile URL template with {x} {y} {z}.",
    ),
    tiles_attr: str | None = typer.Option(None, help="Attribution of a custom tile URL (required with one)."),
    tiles_crs: str = typer.Option("wgs84", help="Coordinates of a custom tile URL: wgs84 or gcj02."),
    measure: ci.Measure = "time",
    pdf: Path | None = typer.Option(
        None, help="Print layout (title, legend, scale, sources) to this PDF, headless Chromium."
    ),
    png: Path | None = typer.Option(None, help="Print layout to this PNG, headless Chromium."),
    paper: str = typer.Option("a4", help="Paper of --pdf/--png: a4 or a3 (landscape)."),
    force: ci.Force = False,
) -> None:
    """Coverage map: one self-contained HTML page (works offline) with the 5/10/15-minute areas,
    facilities, communities shaded by covered share and the gaps outlined; --pdf/--png print it."""
    from .catalog import load_catalog
    from .outputs.print_render import check_print_outputs, print_map
    from .pipeline import plan as run_plan_all

    for target in check_print_outputs(out, pdf, png, paper):
        _check_out_file(target, force)
    cats = [load_catalog().resolve(c).key for c in category] if category else None
    opts = ci.plan_options(
        region,
        osm,
        download,
        communities,
        facilities,
        population,
        no_crs_check,
        categories=cats,
        measure=measure,
        country=country,
    )
    result = run_plan_all(opts)
    paths = print_map(
        result, html=out, pdf=pdf, png=png, paper=paper,
        category=cats, tiles=tiles, minutes=minutes, tiles_attr=tiles_attr, tiles_crs=tiles_crs,
    )  # fmt: skip
    for path in paths:
        typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB; © OpenStreetMap contributors)")


def _register_serve() -> None:
    """``circles serve``: the HTTP API (see :mod:`circles.cli_serve`)."""
    from .cli_serve import serve

    app.command("serve")(friendly(serve))


def _register_batch() -> None:
    """``circles batch``: many regions or scenarios on Dask (see :mod:`circles.batch`)."""
    from .batch.cli import batch_command

    app.command("batch")(batch_command)


_register_serve()
_register_batch()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
