"""Which file, which sheet or layer, and which coordinate system: one input as the user names it.

Every input file carries its own coordinate system, so a WGS84 list beside a GCJ-02 one is never
shifted by a setting meant for the other::

    canteens.xlsx:gcj02          高德/腾讯 export
    centres.csv:wgs84            GPS / OpenStreetMap / CGCS2000 (EPSG:4490 equals WGS84 within a metre)
    register.xlsx#2024:bd09      sheet '2024' of a 百度 export
    sites.csv:EPSG:4547          projected x/y in metres (CGCS2000 3-degree Gauss–Krüger zone 35)
    communities.gpkg#社区        layer '社区'; the GeoPackage's own CRS is used
    communities.geojson          GeoJSON is WGS84 by RFC 7946

A suffix that is not a coordinate system the project knows is an error naming the choices; a file
name that itself contains ``:`` is read whole when it exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CoordinateSystemError, InputError
from .coords import normalise_crs_name

#: The choices, as every message about an undeclared or unknown coordinate system names them.
CRS_CHOICES = (
    "wgs84 (GPS, OpenStreetMap), cgcs2000 (= EPSG:4490, equal to WGS84 within a metre), "
    "gcj02 (高德/腾讯 exports), bd09 (百度 exports), or EPSG:n for projected x/y in metres "
    "(e.g. EPSG:4547, CGCS2000 Gauss–Krüger)"
)

_EPSG_SUFFIX = re.compile(r"^(?P<path>.+):(?P<crs>(?:epsg|EPSG):\d{4,6})$")
_SUFFIX = re.compile(r"^(?P<path>.+):(?P<crs>[A-Za-z][A-Za-z0-9_\- ]{1,15})$")


@dataclass(frozen=True)
class FileSpec:
    """One input file: ``path``, ``part`` (an Excel sheet or a GeoPackage layer, or None for the first)
    and ``crs`` as declared by the user (canonical: ``'wgs84'``, ``'gcj02'``, ``'bd09'`` or
    ``'EPSG:n'``), or None when the user declared none (then the file's own CRS, if it has one)."""

    path: Path
    crs: str | None = None
    part: str | None = None

    def __str__(self) -> str:
        text = str(self.path) + (f"#{self.part}" if self.part else "")
        return text + (f":{self.crs}" if self.crs else "")

    def with_crs(self, crs: str | None) -> FileSpec:
        """The same file declared in ``crs`` (any accepted name; None: undeclared)."""
        return FileSpec(self.path, None if crs is None else declared_crs(crs, str(self.path)), self.part)


def declared_crs(name: str, where: str = "") -> str:
    """Canonical form of a declared coordinate system name; :class:`CoordinateSystemError` names the
    choices. ``where`` (e.g. the file) prefixes the message."""
    try:
        return normalise_crs_name(name)
    except CoordinateSystemError:
        prefix = f"{where}: " if where else ""
        raise CoordinateSystemError(
            f"{prefix}unknown coordinate system {name!r}; declare one of: {CRS_CHOICES}"
        ) from None


def parse_file_spec(text: str | Path | FileSpec) -> FileSpec:
    """``PATH[#SHEET_OR_LAYER][:CRS]`` -> :class:`FileSpec` (see the module docstring).

    ``Path`` objects and existing file names are taken whole (no suffix parsing)."""
    if isinstance(text, FileSpec):
        return text
    if isinstance(text, Path) or Path(text).exists():
        return FileSpec(Path(text))
    raw = str(text).strip()
    if not raw:
        raise InputError("an input file name is empty")
    crs = None
    m = _EPSG_SUFFIX.match(raw) or _SUFFIX.match(raw)
    if m and not Path(raw).exists():
        raw, crs = m.group("path"), declared_crs(m.group("crs"), m.group("path"))
    part = None
    if "#" in raw and not Path(raw).exists():
        raw, part = raw.rsplit("#", 1)
        part = part.strip() or None
    return FileSpec(Path(raw), crs, part)
