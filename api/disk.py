"""Bounded disk: generated exports are cached by their inputs and capped; stored uploads are capped.

- An export's file name is a digest of everything it depends on (:func:`export_name`: what was asked,
  the plan's inputs, the store's identity and revision), so the same request at the same revision
  returns the same file, written once, by whichever worker process comes first (written under a
  temporary name and moved into place).
- :func:`prune_files` keeps a folder below a total size and age, deleting the least recently used
  files first (a reused export is touched); :func:`prune_imports` keeps the uploads folder below its
  size, oldest imports first, never the community layer in use nor the import just made.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Temporary files of writers that died are removed after this long, seconds.
STALE_TMP_S = 3600.0


def export_name(prefix: str, suffix: str, **inputs: Any) -> str:
    """``<prefix>_<16 hex digits>.<suffix>``: the digest of ``inputs`` (JSON, sorted keys)."""
    text = json.dumps(inputs, sort_keys=True, ensure_ascii=True, default=str)
    return f"{prefix}_{hashlib.sha256(text.encode()).hexdigest()[:16]}.{suffix}"


def cached_file(path: Path, write: Callable[[Path], object]) -> tuple[Path, bool]:
    """``path`` if it exists (touched: recently used), else written by ``write(path)`` (which must write
    atomically). Returns the path and whether it was reused."""
    if path.is_file():
        try:
            os.utime(path)
            return path, True
        except FileNotFoundError:  # pruned by another worker just now
            pass
    write(path)
    return path, False


def _files(folder: Path) -> list[tuple[float, int, Path]]:
    """(modified time, bytes, path) of the regular files directly in ``folder``, oldest first."""
    out = []
    for entry in os.scandir(folder) if folder.is_dir() else ():
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if entry.is_file(follow_symlinks=False):
            out.append((st.st_mtime, st.st_size, Path(entry.path)))
    return sorted(out)


def prune_files(folder: Path, *, max_bytes: int, max_age_s: float, keep: Iterable[Path] = ()) -> list[Path]:
    """Delete files of ``folder`` older than ``max_age_s`` and then the least recently used until the
    rest fit ``max_bytes``; never those in ``keep``. Returns what was deleted."""
    kept = {Path(p).resolve() for p in keep}
    now = time.time()
    files = _files(folder)
    total = sum(size for _, size, _ in files)
    gone = []
    for mtime, size, path in files:
        tmp = path.name.startswith(".") and path.name.endswith(".tmp")
        if path.resolve() in kept:
            continue
        if tmp and now - mtime < STALE_TMP_S:
            continue  # another writer's file in progress
        if tmp or now - mtime > max_age_s or total > max_bytes:
            path.unlink(missing_ok=True)
            total -= size
            gone.append(path)
    if gone:
        log.info("removed %d files from %s (limit %d bytes)", len(gone), folder, max_bytes)
    return gone


def _tree_bytes(folder: Path) -> int:
    total = 0
    for root, _, names in os.walk(folder):
        for n in names:
            try:
                total += os.stat(os.path.join(root, n), follow_symlinks=False).st_size
            except FileNotFoundError:
                pass
    return total


def prune_imports(imports_dir: Path, *, max_bytes: int, keep: Iterable[str]) -> list[str]:
    """Delete the oldest import folders of ``imports_dir`` until the rest fit ``max_bytes``; never the
    folders named in ``keep`` (import ids). Returns the ids deleted."""
    if not imports_dir.is_dir():
        return []
    kept = set(keep)
    folders = []
    for entry in os.scandir(imports_dir):
        if entry.is_dir(follow_symlinks=False):
            folders.append((entry.stat().st_mtime, entry.name, Path(entry.path)))
    sizes = {name: _tree_bytes(path) for _, name, path in folders}
    total = sum(sizes.values())
    gone = []
    for _, name, path in sorted(folders):
        if total <= max_bytes:
            break
        if name in kept:
            continue
        shutil.rmtree(path, ignore_errors=True)
        total -= sizes[name]
        gone.append(name)
    if gone:
        log.info("removed %d stored uploads (limit %d bytes): %s", len(gone), max_bytes, ", ".join(gone))
    return gone
