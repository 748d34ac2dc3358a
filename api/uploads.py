"""Uploaded files: checked by name and size, kept under the state directory, one folder per import.

Nothing an upload names can leave ``<state_dir>/imports/<import id>/``: the client's file name is
reduced to its last component, letters, digits, ``_`` and ``-`` (Chinese kept) and an accepted suffix.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from circles.errors import InputError
from circles.io.file_spec import CRS_CHOICES, declared_crs

from .errors import PayloadTooLargeError

#: File types read as tables of points, which store no coordinate system (one must be declared).
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")
#: File types that carry their coordinate system (GeoJSON is WGS84; GeoPackage and Shapefile store one).
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp.zip", ".zip")
SUFFIXES = {"facilities": TABLE_SUFFIXES + VECTOR_SUFFIXES, "communities": VECTOR_SUFFIXES}
KIND_TEXT = {
    "facilities": "CSV, Excel (.xlsx), GeoJSON, GeoPackage or a zipped Shapefile (.zip)",
    "communities": "GeoJSON, GeoPackage or a zipped Shapefile (.zip)",
}
_CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^\w\-]+")


@dataclass(frozen=True)
class Upload:
    """One uploaded file as kept: ``path`` under the state directory, the client's ``file_name``, the
    declared coordinate system (canonical, or None) and sheet or layer (``part``)."""

    import_id: str
    kind: str
    file_name: str
    path: Path
    crs: str | None
    part: str | None

    def relative_path(self, state_dir: Path) -> str:
        return self.path.relative_to(state_dir).as_posix()

    def public(self, text: str) -> str:
        """``text`` (a reader's message) naming the file as the client did, not where it is kept."""
        return text.replace(str(self.path), self.file_name).replace(self.path.name, self.file_name)


def upload_suffix(file_name: str, kind: str) -> str:
    """The accepted suffix ``file_name`` ends in (lower case); an :class:`InputError` naming the
    accepted types otherwise."""
    lower = file_name.lower()
    for suffix in SUFFIXES[kind]:
        if lower.endswith(suffix) and len(lower) > len(suffix):
            return suffix
    raise InputError(
        f"{kind} are uploaded as {KIND_TEXT[kind]}; {file_name!r} has none of the endings "
        f"{', '.join(SUFFIXES[kind])}"
    )


def safe_name(file_name: str, kind: str) -> str:
    """The name the upload is kept under: the last path component, unsafe characters as ``_``."""
    base = base_name(file_name)
    suffix = upload_suffix(base, kind)
    stem = _UNSAFE.sub("_", base[: len(base) - len(suffix)]).strip("_")[:60]
    return (stem or "upload") + suffix


def base_name(file_name: str) -> str:
    """The last component of a client's file name (browsers may send a whole Windows path)."""
    return unicodedata.normalize("NFKC", re.split(r"[\\/]", file_name)[-1]).strip()


def check_request(kind: str, file_name: str | None, crs: str | None) -> tuple[str, str | None]:
    """Validate what the client sent beside the bytes, before anything is written: the file name and
    its type, the coordinate system (required for CSV and Excel tables). Returns the safe name and the
    canonical coordinate system."""
    if not file_name or not file_name.strip():
        raise InputError(f"the upload needs a file name ending in one of {', '.join(SUFFIXES[kind])}")
    name = safe_name(file_name, kind)
    declared = declared_crs(crs.strip()) if crs is not None and crs.strip() else None
    if declared is None and name.endswith(TABLE_SUFFIXES):
        raise InputError(
            f"{file_name}: a table of longitude/latitude stores no coordinate system; send crs= one of "
            f"{CRS_CHOICES}"
        )
    return name, declared


def save_upload(
    state_dir: Path,
    kind: str,
    file_name: str,
    stream: BinaryIO,
    *,
    crs: str | None,
    part: str | None,
    max_bytes: int,
) -> Upload:
    """Copy ``stream`` to ``<state_dir>/imports/<new id>/<safe name>``; a
    :class:`PayloadTooLargeError` (413) over ``max_bytes``, an :class:`InputError` for an empty file
    (nothing is kept either way)."""
    name, declared = check_request(kind, file_name, crs)
    import_id = uuid.uuid4().hex[:12]
    folder = state_dir / "imports" / import_id
    folder.mkdir(parents=True)
    path = folder / name
    size = 0
    try:
        with open(path, "xb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLargeError(f"{file_name}: upload over the limit of {max_bytes:,} bytes")
                out.write(chunk)
        if size == 0:
            raise InputError(f"{file_name}: the uploaded file is empty")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    clean_part = part.strip() if part is not None and part.strip() else None
    return Upload(import_id, kind, base_name(file_name), path, declared, clean_part)


def discard(upload: Upload) -> None:
    """Remove an upload's folder (a dry run that failed, or refused the file: nothing to apply)."""
    shutil.rmtree(upload.path.parent, ignore_errors=True)
