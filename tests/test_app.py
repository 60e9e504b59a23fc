"""The web app as `make run` starts it: a real Gradio server in a subprocess, called with gradio_client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ARTICLES, ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    index = tmp_path_factory.mktemp("app") / "index"
    port = free_port()
    env = dict(os.environ, CITECHAT_INDEX_DIR=str(index), CITECHAT_DATA_DIR=str(ARTICLES), CITECHAT_PORT=str(port))
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--ingest"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"app exited: {proc.stdout.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise AssertionError("app did not start within 180 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_chat_api_answers_with_citations(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    out = client.predict("Who presented flags in Luohu?", api_name="/chat")
    assert "Liu Sheng and Vanderfan presented flags" in out
    assert "[1]" in out and "Sources" in out and "001" in out


def test_chat_api_abstains_and_escapes(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    out = client.predict("What is the capital of France?", api_name="/chat")
    assert "don&#39;t contain" in out or "don't contain" in out
    assert "Closest matches" in out
    out = client.predict("<script>alert(1)</script>", api_name="/chat")
    assert "<script>" not in out


def test_binds_to_loopback_by_default():
    from citechat.config import Settings

    assert Settings().host == "127.0.0.1"
    assert Path(ROOT / "app.py").exists()
