"""Adding and deleting articles from a running app (uploads), without losing anything.

- An upload is validated (type, size, readable text) *before* anything is written; a bad file changes nothing.
- The file is saved into the article folder under a safe name (no path parts, no hidden names), then indexed.
- Deleting an article removes it from the index and moves its file to `<data_dir>/.deleted/`, so it is not
  ingested again by `make run` and can still be restored by moving it back.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .engine import Engine
from .indexing import IngestReport
from .loading import SUPPORTED_SUFFIXES, LoadError, load_article
from .errors import UploadError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


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
    tmp = data_dir / f".upload-{time.time_ns()}-{name}"
    tmp.write_bytes(data)
    tmp.replace(target)  # atomic: a crash never leaves a half-written article
    # workers=0: no embedding processes forked from the (multi-threaded) web server.
    report = engine.ingest([target], progress=False, workers=0)
    status = "added" if report.added else "updated" if report.updated else "unchanged"
    return UploadResult(source=name, status=status, report=report)


def delete_article(engine: Engine, source: str) -> Path | None:
    """Remove an article from the index; move its file (if in the article folder) to `.deleted/`.
    Returns the file's new path, or None if there was no file."""
    stored = engine.store.list_articles().get(source)
    if stored is None:
        raise UploadError(f"{source} is not in the index")
    engine.remove(source)
    data_dir = Path(engine.settings.data_dir).resolve()
    path = Path(stored.path) if stored.path else data_dir / source
    if not path.resolve().is_relative_to(data_dir):
        return None  # a file outside the article folder is never touched
    if not path.exists():
        return None
    trash = data_dir / ".deleted"
    trash.mkdir(exist_ok=True)
    dest = trash / f"{int(time.time())}-{path.name}"
    shutil.move(str(path), dest)
    return dest
