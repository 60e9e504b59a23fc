"""Starting the real app in a subprocess and driving Debian's chromium with Playwright (no browser download)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


def store_env(index_dir: Path) -> dict[str, str]:
    """In server mode (CITECHAT_TEST_STORE=server) an index folder maps to its own collection on the server."""
    if os.environ.get("CITECHAT_TEST_STORE") != "server":
        return {}
    import hashlib

    return {"CITECHAT_COLLECTION": "c" + hashlib.sha1(str(index_dir).encode()).hexdigest()[:12]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`python app.py --ingest` on a free loopback port, with its own article and index folders."""

    def __init__(self, data_dir: Path, index_dir: Path, extra_env: dict[str, str] | None = None,
                 uploads: bool = True) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.data_dir, self.index_dir = data_dir, index_dir
        env = dict(os.environ, CITECHAT_INDEX_DIR=str(index_dir), CITECHAT_DATA_DIR=str(data_dir),
                   CITECHAT_PORT=str(self.port), **store_env(index_dir), **(extra_env or {}))
        if uploads and "CITECHAT_AUTH" not in env:
            env["CITECHAT_ALLOW_UPLOADS"] = "true"  # the tests' own loopback servers opt in to Library uploads
        self.log = open(index_dir.parent / f"app-{self.port}.log", "w")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--ingest"], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited early:\n{Path(self.log.name).read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("app did not start within 180 s")

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def stop_process(proc: subprocess.Popen, grace: float = 20) -> None:
    """Terminate a child process, and kill it if it hasn't ended after `grace` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_chroma_server(path: Path) -> tuple[subprocess.Popen, str]:
    """`chroma run` on a free loopback port; returns the process and its URL once it answers."""
    import urllib.request

    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", str(path), "--port",
                             str(port), "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/api/v2/heartbeat", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("chroma server did not start")


def copy_articles(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file():
            shutil.copy2(f, dst / f.name)
    return dst
