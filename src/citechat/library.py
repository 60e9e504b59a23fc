"""Adding and deleting articles from a running app (uploads), without losing anything.

- An upload is validated (type, size, readable text) *before* anything is written; a bad file changes nothing.
- The file is saved into the article folder under a safe name (no path parts, no hidden names), then indexed.
- Deleting an article removes it from the index and moves its file to `<data_dir>/.deleted/`, so it is not
  ingested again by `make run` and can still be restored by moving it back.
- An upload that replaces a file of the same name first copies the old file to `.deleted/`. If indexing the new
  file fails, the old file is put back (or the new one removed, if there was none) and re-indexed.
- Nothing in `.deleted/` is ever overwritten: each copy gets a name of its own.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .engine import Engine
from .errors import UploadError
from .ingest.loading import SUPPORTED_SUFFIXES, LoadError, load_article
from .ingest.report import IngestReport

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
log = logging.getLogger(__name__)


def safe_filename(name: str) -> str:
    """The bare file name, stripped of any directory parts and odd characters ("../../x.txt" -> "x.txt")."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^\w.\- ]", "_", base, flags=re.UNICODE).strip(" .")
    if not base or base.startswith("."):
        raise UploadError(f"'{name}' is not a usable file name")
    return base[:120]


@dataclass
class UploadResult:
    source: str
    status: str  # "added", "updated" or "unchanged"
    report: IngestReport
    replaced: Path | None = None  # where the file it replaced was kept


def add_upload(engine: Engine, filename: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> UploadResult:
    """Validate, save and index one uploaded article."""
    name = safe_filename(filename)
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UploadError(f"{name}: unsupported file type '{suffix or 'none'}' (use .txt, .md or .html)")
    if len(data) > max_bytes:
        raise UploadError(f"{name}: {len(data) / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB upload limit")
    data_dir = Path(engine.settings.data_dir)
    target = data_dir / name
    try:
        load_article(target, data=data, source=name)  # validates decoding and content; raises LoadError
    except LoadError as e:
        raise UploadError(str(e)) from e
    data_dir.mkdir(parents=True, exist_ok=True)
    old = target.read_bytes() if target.exists() else None
    backup = trash_copy(data_dir, target) if old is not None and old != data else None
    tmp = data_dir / f".upload-{time.time_ns()}-{name}"
    tmp.write_bytes(data)
    tmp.replace(target)  # atomic: a crash never leaves a half-written article
    try:
        # workers=0: no embedding processes forked from the (multi-threaded) web server.
        report = engine.ingest([target], progress=False, workers=0)
    except BaseException:
        _roll_back(engine, target, old)
        raise
    status = "added" if report.added else "updated" if report.updated else "unchanged"
    return UploadResult(source=name, status=status, report=report, replaced=backup)


def _roll_back(engine: Engine, target: Path, old: bytes | None) -> None:
    """Undo a saved upload whose indexing failed: the old file back (re-indexed if the store lets us), or none."""
    if old is None:
        target.unlink(missing_ok=True)
        try:
            engine.remove(target.name)
        except Exception:  # the store is down or never had it: the next ingest drops what no file backs
            log.warning("upload rollback: %s not removed from the index", target.name, exc_info=True)
        return
    tmp = target.with_name(f".restore-{time.time_ns()}-{target.name}")
    tmp.write_bytes(old)
    tmp.replace(target)
    try:
        engine.ingest([target], progress=False, workers=0)
    except Exception:  # the next ingest (make run, another upload) sees the changed file and re-indexes it
        log.warning("upload rollback: %s restored but not re-indexed", target.name, exc_info=True)


def trash_copy(data_dir: Path, path: Path, move: bool = False) -> Path:
    """Copy (or move) `path` into `<data_dir>/.deleted/` under a name no other copy has; returns the new path."""
    trash = data_dir / ".deleted"
    trash.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in itertools.count():
        dest = trash / f"{stamp}{f'-{n}' if n else ''}-{path.name}"
        try:
            fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # claims the name; a rival picks the next one
        except FileExistsError:
            continue
        os.close(fd)
        if move:
            shutil.move(path, dest)
        else:
            shutil.copy2(path, dest)
        return dest
    raise AssertionError("unreachable")


def delete_article(engine: Engine, source: str) -> Path | None:
    """Remove an article from the index; move its file (if in the article folder) to `.deleted/`.
    Returns the file's new path, or None if there was no file."""
    stored = engine.list_articles().get(source)
    if stored is None:
        raise UploadError(f"{source} is not in the index")
    engine.remove(source)
    data_dir = Path(engine.settings.data_dir).resolve()
    path = Path(stored.path) if stored.path else data_dir / source
    if not path.resolve().is_relative_to(data_dir):
        return None  # a file outside the article folder is never touched
    if not path.exists():
        return None
    return trash_copy(data_dir, path, move=True)
