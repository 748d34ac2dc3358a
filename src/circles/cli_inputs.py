"""The input options every planning command shares (``circles plan``, ``sites``, ``map``, ``serve``):
region or OSM file, the user's files each with its own coordinate system, population, the coordinate
check. Declared once here as ``Annotated`` types so the commands cannot drift apart."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .config import DEFAULT_REGION
from .errors import InputError
from .inputs import PlanOptions
from .io.file_spec import CRS_CHOICES, parse_file_spec
from .measures import DEFAULT_MEASURE

FILE_SYNTAX = "FILE[#SHEET_OR_LAYER][:CRS], e.g. canteens.xlsx:gcj02, centres.csv:wgs84, comm.gpkg"

Region = Annotated[str, typer.Option(help="Registered region (see data/regions.toml).")]
Osm = Annotated[Path | None, typer.Option(help="Any OSM XML or PBF file instead of a registered region.")]
Country = Annotated[
    str | None,
    typer.Option(
        help="Walking/cycling access defaults of this country (ISO code, e.g. CN, FI, BR; "
        "data/access_rules.toml) instead of the region's own or, for --osm, the one found from the file's "
        "coordinates."
    ),
]
Download = Annotated[
    bool,
    typer.Option(help="Fetch the region from OpenStreetMap (internet) when its extract is not found."),
]
Communities = Annotated[
    str | None,
    typer.Option(
        help=f"Community polygons {FILE_SYNTAX} (GeoJSON/GPKG/SHP) with id, name, type, households or "
        "population, and optionally 社区/街道/区 columns."
    ),
]
Facilities = Annotated[
    list[str] | None,
    typer.Option(
        help=f"Facility register(s), repeatable: {FILE_SYNTAX}. Excel/CSV need their coordinate system: "
        f"{CRS_CHOICES}. Headers in Chinese or English (类别/category, 经度/lon, 纬度/lat …)."
    ),
]
Population = Annotated[Path | None, typer.Option(help="Population raster (GeoTIFF, persons per cell).")]
NoCrsCheck = Annotated[
    bool,
    typer.Option(
        "--no-crs-check",
        help="Proceed even when a file's coordinates overwhelmingly fit another coordinate system "
        "(the check's finding is still reported).",
    ),
]
Force = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]
Measure = Annotated[
    str,
    typer.Option(
        "--measure",
        help="What thresholds are in: time (minutes at the travel profile's speed, the default) or distance "
        "(network walking metres per level, GB 50180-2018: 300 / 500 / 1000 m; rural communities keep "
        "their minutes by bicycle).",
    ),
]
LegacyCrs = Annotated[
    str | None,
    typer.Option("--crs", "--facilities-crs", "--communities-crs", "--candidates-crs", hidden=True),
]
#: The old per-kind input CRS options without ``--crs`` (commands whose ``--crs`` is the output's).
LegacyInputCrs = Annotated[
    str | None,
    typer.Option("--facilities-crs", "--communities-crs", "--candidates-crs", hidden=True),
]


def refuse_legacy_crs(value: str | None) -> None:
    """One ``--crs`` for every file shifted correct files with wrong ones: it is gone, with a pointer."""
    if value is not None:
        raise InputError(
            f"--crs {value} is no longer accepted: declare each file's coordinate system after its name, "
            f"e.g. --facilities canteens.xlsx:gcj02 --facilities centres.csv:wgs84 (choices: {CRS_CHOICES})"
        )


def plan_options(
    region: str = DEFAULT_REGION,
    osm: Path | None = None,
    download: bool = False,
    communities: str | None = None,
    facilities: list[str] | None = None,
    population: Path | None = None,
    no_crs_check: bool = False,
    *,
    categories: list[str] | None = None,
    osm_facilities: bool = True,
    sample_facilities: bool | None = None,
    spacing_m: float = 50.0,
    measure: str = DEFAULT_MEASURE,
    country: str | None = None,
) -> PlanOptions:
    """:class:`PlanOptions` from the shared options (file specs parsed, so a bad one fails first)."""
    return PlanOptions(
        region=region,
        osm=osm,
        download=download,
        communities=parse_file_spec(communities) if communities else None,
        facilities=[parse_file_spec(f) for f in facilities or []],
        population=population,
        crs_check=not no_crs_check,
        categories=categories,
        osm_facilities=osm_facilities,
        sample_facilities=sample_facilities,
        spacing_m=spacing_m,
        measure=measure,
        country=country,
    )
