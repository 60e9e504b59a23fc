"""A full disk during ingest (issue: "A full disk during ingest gives a clear error naming the folder"): the index
folder is a real tmpfs too small for the whole corpus. `citechat ingest` (a real subprocess) stops with one line
naming the folder and exit code 2, the index stays consistent (the crash-test invariants), and after the tmpfs is
made bigger, the next ingest completes.

The mount happens in a private mount namespace (`unshare -m` as root, `unshare -rm` otherwise), so it can never
outlive the test; the script unmounts it at its end as well. Indexes are copied out of the tmpfs for checking.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from citechat.config import Settings
from citechat.engine import Engine
from index_checks import check_consistent
from scale import write_corpus

from conftest import local_only

pytestmark = local_only  # the full disk is the local index folder's


def _namespace() -> list[str]:
    """The unshare prefix that lets this process mount a tmpfs, or skip the test with the reason."""
    if shutil.which("unshare") is None:
        pytest.skip("no `unshare` to mount a tmpfs in a private mount namespace")
    prefix = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    probe = subprocess.run([*prefix, "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && "
                            "umount $d && rmdir $d"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({' '.join(prefix)}: {probe.stderr.strip()[:200]})")
    return prefix


def run_on_tmpfs(tmp: Path, size: str, steps: str) -> subprocess.CompletedProcess:
    """Run the shell `steps` with a fresh tmpfs of `size` mounted on $MNT (a folder in `tmp`)."""
    mnt = tmp / "mnt"
    mnt.mkdir(exist_ok=True)
    script = (f"set -u; MNT={shlex.quote(str(mnt))}; mount -t tmpfs -o size={size} tmpfs \"$MNT\" || exit 90\n"
              f"{steps}\numount \"$MNT\"")
    env = dict(os.environ, PY=sys.executable)
    return subprocess.run([*_namespace(), "sh", "-c", script], capture_output=True, text=True, env=env, timeout=300)


def _engine(index: Path, data: Path, embedder, encoder) -> Engine:
    return Engine(Settings(index_dir=index, data_dir=data), embedder=embedder, encoder=encoder, create=False)


def test_full_disk_during_ingest_then_ingest_with_space(tmp_path, embedder, encoder):
    data = tmp_path / "articles"
    n_files = write_corpus(data, 1500, exclude=[], seed=11)  # 56 articles, ~11 MB of index
    index = tmp_path / "mnt" / "index"
    # (no embedding worker processes: keeps the test's CPU use modest)
    ingest = (f"CITECHAT_EMBED_WORKERS=0 CITECHAT_INDEX_DIR=\"$MNT/index\" CITECHAT_DATA_DIR={shlex.quote(str(data))} "
              "timeout 240 \"$PY\" -m citechat ingest --no-progress")
    out = tmp_path / "out"
    out.mkdir()
    # 12 MB: room for about half the corpus (empty index ~0.2 MB)
    p = run_on_tmpfs(tmp_path, "12m", f"""
{ingest} >{out}/1.out 2>{out}/1.err; echo $? >{out}/1.rc
cp -a "$MNT/index" {out}/full
mount -o remount,size=64m "$MNT"
{ingest} >{out}/2.out 2>{out}/2.err; echo $? >{out}/2.rc
cp -a "$MNT/index" {out}/done""")
    assert p.returncode == 0, p.stderr
    err = (out / "1.err").read_text()
    # One plain line naming the folder (its path inside the tmpfs), exit code 2, no traceback.
    assert (out / "1.rc").read_text().strip() == "2", err
    assert err.strip().splitlines() == [
        f"error: The index folder {index} is full (No space left on device): free some space, then run "
        "`citechat ingest` again; articles already indexed are kept."]
    full = _engine(out / "full", data, embedder, encoder)
    kept = check_consistent(full, data, complete=False)
    assert 0 < len(kept) < n_files, "part of the corpus fitted, and it was kept"
    # With space: the same command finishes the rest, and only the rest is embedded.
    assert (out / "2.rc").read_text().strip() == "0", (out / "2.err").read_text()
    assert f"{n_files - len(kept)} added" in (out / "2.out").read_text()
    assert f"{len(kept)} unchanged" in (out / "2.out").read_text()
    done = _engine(out / "done", data, embedder, encoder)
    check_consistent(done, data)


RAISE_FULL = """
import errno, sqlite3, sys
from citechat.store import disk_full_reason
d = sys.argv[1]
try:
    with open(d + "/fill", "wb") as fh:
        while True:
            fh.write(b"x" * 65536)
            fh.flush()
except OSError as e:
    print(e.errno == errno.ENOSPC, disk_full_reason(RuntimeError("wrapped")) is None, disk_full_reason(e))
import os; os.remove(d + "/fill")
con = sqlite3.connect(d + "/t.sqlite")
con.execute("CREATE TABLE t (b BLOB)")
try:
    while True:
        con.execute("INSERT INTO t VALUES (?)", (b"y" * 65536,)); con.commit()
except sqlite3.OperationalError as e:
    try:
        raise RuntimeError("Query error: Database error") from e  # as a wrapper library would
    except RuntimeError as wrapped:
        print(str(e), disk_full_reason(wrapped))
"""


def test_real_enospc_errors_are_recognised(tmp_path):
    """The errors a full disk really raises (a file write: OSError ENOSPC; SQLite: "database or disk is full",
    here wrapped in another exception as chromadb does) are recognised anywhere in the exception chain."""
    script = tmp_path / "raise_full.py"
    script.write_text(RAISE_FULL, encoding="utf-8")
    p = run_on_tmpfs(tmp_path, "256k", f"\"$PY\" {script} \"$MNT\" || exit 91")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["True True No space left on device",
                                     "database or disk is full No space left on device"]


def test_store_refuses_a_write_that_does_not_fit(tmp_path, embedder, monkeypatch):
    """The space check before a write (what keeps Chroma from starting a write that cannot finish): with the
    margin raised above the free space of tmp_path's real file system, an add is refused and nothing is written."""
    from citechat.errors import IndexFull
    from citechat.store import Store, guard

    store = Store(Settings(index_dir=tmp_path / "index"), embedder.name)
    free = guard.free_bytes(tmp_path)
    assert free is not None and free > 0
    monkeypatch.setattr(guard, "SPACE_MARGIN", free + 1)  # the real free space, just not enough
    with pytest.raises(IndexFull, match=f"index folder {tmp_path / 'index'} is full"):
        store.articles.upsert(ids=["a"], documents=["text"], metadatas=[{"x": 1}], embeddings=[[0.1] * 8])
    monkeypatch.setattr(guard, "SPACE_MARGIN", 0)
    assert store.articles.count() == 0
