"""The built wheel works outside the checkout: it ships the prompts (one copy, top-level prompts/, which the
package links to) and the models, installs into a new virtual environment, and `citechat serve` answers there.

The new environment reuses this one's installed dependencies through a .pth line (a fresh install of torch and
the rest would download gigabytes); citechat itself comes only from the wheel, which the test checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

from browser_support import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = sorted(p.name for p in (ROOT / "prompts").glob("*.txt"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools' build folder: files of an earlier layout
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                        "--quiet", "-w", str(out)], capture_output=True, text=True, timeout=600, cwd=out)
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    assert p.returncode == 0, p.stderr
    (found,) = out.glob("citechat-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300)
    py = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps-from-the-test-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    p = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return env_dir


def test_the_wheel_ships_one_copy_of_each_prompt(wheel):
    assert PROMPTS == ["condense.txt", "qa.txt", "system.txt"]
    for name in PROMPTS:  # the package's files are links to prompts/, so there is one copy to edit
        linked = ROOT / "src" / "citechat" / "prompts" / name
        assert linked.is_symlink() and linked.resolve() == (ROOT / "prompts" / name).resolve()
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for name in PROMPTS:
            assert z.read(f"citechat/prompts/{name}") == (ROOT / "prompts" / name).read_bytes()
        assert {"citechat/models/decision.txt", "citechat/models/decision.json"} <= names


def test_citechat_serve_from_the_wheel_outside_the_checkout(venv, tmp_path):
    cwd = tmp_path / "elsewhere"
    (cwd / "articles").mkdir(parents=True)
    shipped = next((ROOT / "data" / "articles").glob("001_*.txt"))
    (cwd / "articles" / shipped.name).write_bytes(shipped.read_bytes())
    py = venv / "bin" / "python"
    where = subprocess.run([str(py), "-c", "import citechat, citechat.prompts as p; print(citechat.__file__); "
                            "print(p.load_prompts().qa)"], capture_output=True, text=True, cwd=cwd, check=True)
    assert where.stdout.startswith(str(venv)), where.stdout  # not the checkout's editable install
    assert "{question}" in where.stdout
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITECHAT_")}
    env.update(CITECHAT_INDEX_DIR=str(cwd / "index"), CITECHAT_DATA_DIR=str(cwd / "articles"),
               CITECHAT_PORT=str(port))
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([str(venv / "bin" / "citechat"), "serve", "--ingest"], cwd=cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        from gradio_client import Client

        deadline = time.time() + 240
        while "citechat is running" not in (tmp_path / "serve.log").read_text():
            assert proc.poll() is None and time.time() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.5)
        for _ in range(60):
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                time.sleep(1)
        out = client.predict("Who presented flags in Luohu?", api_name="/chat")
        assert out["answerable"] and "Liu Sheng" in out["answer"], out
        assert out["citations"][0]["source"] == shipped.name
    finally:
        stop_process(proc)
        log.close()
