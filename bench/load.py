"""The load test of `make bench`: many gradio_client sessions against the web app on a Chroma server.

Each session is a reader: it asks a question, reads the answer for a while (an exponential pause, mean
`think_s`; 0 asks again at once) and asks the next one. A second process can ingest new articles meanwhile.
An answer that differs from the same question asked alone before the run counts as crossed (a sign of mixed-up
sessions). `LoadConfig` holds one configuration, so each lever of docs/performance.md is one run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from citechat.evaluation import percentile
from citechat.ui.render import md_esc

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class LoadConfig:
    label: str = "default"
    sessions: int = 100
    seconds: float = 60
    think_s: float = 8.0  # mean pause between one session's questions
    concurrency: int | None = None  # Gradio concurrency limit (None: the app's default)
    answer_cache: bool = True
    question_threads: int | None = None  # None: the app's default
    apps: int = 1  # app processes on the one Chroma server; sessions are split between their ports
    with_ingest: bool = True
    client: str = "http"  # "http": Gradio's REST API (curl-like, ~2 ms CPU a question); "gradio": gradio_client (~45 ms)
    #                       on /chat; "chat-event": gradio_client on the page's own chat event with its history save
    questions: str = "public"  # "public": distinct SQuAD/XQuAD half-A questions over their corpus, each asked once;
    #                            "dev": the 20 dev questions over the shipped articles, asked again and again

    def env(self) -> dict[str, str]:
        env = {"CITECHAT_ANSWER_CACHE": "1024" if self.answer_cache else "0"}
        if self.concurrency is not None:
            env["CITECHAT_CONCURRENCY"] = str(self.concurrency)
        if self.question_threads is not None:
            env["CITECHAT_QUESTION_THREADS"] = str(self.question_threads)
        return env


def same_answer(out: dict, ref: dict, question: str) -> bool:
    """The answer to `question` equals the reference answer (text and cited articles)."""
    return out.get("question") == question and out.get("answer") == ref.get("answer") and \
        [c["source"] for c in out.get("citations", [])] == [c["source"] for c in ref.get("citations", [])]


class HttpAsker:
    """One session through Gradio's REST API: POST the question to /gradio_api/call/chat, read the result's event
    stream. Cheap on the CPU, so the load generator takes little from the app on the same machine."""

    def __init__(self, url: str, verbose: bool = False) -> None:
        import httpx

        self.url, self.http = url.rstrip("/"), httpx.Client(timeout=120)

    def predict(self, question: str, api_name: str = "/chat") -> dict:
        r = self.http.post(f"{self.url}/gradio_api/call{api_name}", json={"data": [question, None, None, None, None]})
        r.raise_for_status()
        with self.http.stream("GET", f"{self.url}/gradio_api/call{api_name}/{r.json()['event_id']}") as events:
            event = ""
            for line in events.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = json.loads(line[5:])
                    if event == "error":
                        raise RuntimeError(f"the app answered with an error: {data}")
                    return data[0]
        raise RuntimeError("the event stream ended without an answer")


class ChatEventAsker:
    """One browser-like session through the chat event the page itself calls ("/ask": the answer, the history save,
    the sources panel), with gradio_client keeping the session's state. `predict` returns the question as the app
    recorded it, and `crossed` if the conversation sent back holds any question this session did not ask."""

    def __init__(self, url: str, verbose: bool = False) -> None:
        from gradio_client import Client

        self.client, self.history, self.asked = Client(url, verbose=False), [], []

    def predict(self, question: str, api_name: str = "/chat") -> dict:
        history, panel = self.client.predict(question, self.history, None, [], [], "", "", api_name="/ask")[:2]
        self.history = history
        self.asked.append(md_esc(question.strip()))  # the chat shows the question stripped and Markdown-escaped
        users = [m["content"][0]["text"] if isinstance(m["content"], list) else m["content"]
                 for m in history if m["role"] == "user"]
        answer = history[-1]["content"]
        answer = answer[0]["text"] if isinstance(answer, list) else answer
        if answer.startswith("⚠️"):
            raise RuntimeError(f"the chat answered with a warning: {answer[:200]}")
        return {"question": question if users and users[-1] == self.asked[-1] else None, "answer": answer, "crossed": users != self.asked,
                "panel_chars": len(panel or "")}


def load_test(url: str | list[str], questions: list[str], reference: dict[str, dict] | None, sessions: int,
              seconds: float,
              during: Callable[[], None] | None = None, think_s: float = 0.0, client: str = "http") -> dict[str, Any]:
    """`sessions` sessions (spread over `url`s; `client` "http" or "gradio") asking in a loop for `seconds`, pausing
    a random exponential time of mean `think_s` after each answer; optional work (an ingest) meanwhile. Without a
    `reference` each question is asked once (the sessions share the list), and an answer to another question is
    counted as crossed."""
    from gradio_client import Client

    urls = [url] if isinstance(url, str) else url
    lat: list[float] = []
    errors: list[str] = []
    mixups = hits = 0
    lock = threading.Lock()
    distinct = reference is None  # each question asked once, by whichever session comes next
    queue = list(reversed(questions))
    kinds = {"gradio": Client, "http": HttpAsker, "chat-event": ChatEventAsker}
    clients = _connect([urls[i % len(urls)] for i in range(sessions)], kinds[client])
    deadline = time.time() + seconds

    def session(i: int) -> None:
        nonlocal mixups, hits
        rnd = random.Random(i)
        k = rnd.randrange(len(questions))
        time.sleep(rnd.uniform(0, think_s))  # readers arrive spread out, not all in the first second
        while time.time() < deadline:
            if distinct:
                with lock:
                    if not queue:
                        return
                    q = queue.pop()
            else:
                q = questions[k % len(questions)]
                k += 1
            t = time.perf_counter()
            try:
                out = clients[i].predict(q, api_name="/chat")
            except Exception as e:  # noqa: BLE001 - every failure is counted
                with lock:
                    errors.append(f"{type(e).__name__}: {e}"[:200])
                continue
            dt = (time.perf_counter() - t) * 1000
            with lock:
                lat.append(dt)
                hits += "cache" in (out.get("timings_ms") or {})
                # crossed: another question's answer (distinct questions), or not the answer it gave alone
                mixups += (out.get("question") != q or bool(out.get("crossed"))) if distinct else \
                    not same_answer(out, reference[q], q)
            if think_s > 0:
                time.sleep(min(rnd.expovariate(1 / think_s), max(0.0, deadline - time.time())))

    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    if during is not None:
        time.sleep(min(10, seconds / 4))
        during()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"sessions": sessions, "seconds": round(wall, 1), "think_s": think_s, "client": client, "requests": len(lat),
            "distinct_questions": distinct, "cache_hits": hits,
            "cache_hit_rate": round(hits / len(lat), 3) if lat else None,
            "errors": len(errors), "error_samples": errors[:5], "mixed_up_answers": mixups,
            "throughput_rps": round(len(lat) / wall, 2), "p50_ms": round(percentile(lat, 50), 1),
            "p95_ms": round(percentile(lat, 95), 1), "p99_ms": round(percentile(lat, 99), 1)}


def _connect(urls: list[str], client_cls: Any) -> list[Any]:
    """One client per session, made before the clock starts (a gradio_client fetches the app's config), 8 at once."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda u: client_cls(u, verbose=False), urls))


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early ({proc.returncode})")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def public_questions(seed: int = 0) -> tuple[Path, list[str]]:
    """The English public half-A corpus and its distinct questions (SQuAD 2.0 / XQuAD en-en), in a fixed shuffle."""
    sys.path.insert(0, str(ROOT / "training"))
    from public_sets import PUBLIC_DIR, read_set  # noqa: PLC0415

    qs = list(dict.fromkeys(q.question for q in read_set("en-en", full=True)))
    random.Random(seed).shuffle(qs)
    return PUBLIC_DIR / "corpus-en", qs


def _late_articles(folder: Path) -> None:
    folder.mkdir()
    for i in range(3):
        (folder / f"late_{i}.txt").write_text(
            f"Late story {i}\n\nThe Vellmar orchestra gave {300 + i} concerts in the new hall.", encoding="utf-8")


def run_load(articles: Path, questions_file: Path, cfg: LoadConfig, embedder: str) -> dict[str, Any]:
    """The app (`app.py`, as `make run` starts it; `cfg.apps` of them) on a Chroma server; a second process
    ingests meanwhile if `cfg.with_ingest`."""
    from citechat.evaluation import read_cases

    if cfg.questions == "public":
        articles, qs = public_questions()
    tmp = Path(tempfile.mkdtemp(prefix="citechat-load-"))
    procs: list[subprocess.Popen] = []
    try:
        cport = free_port()
        chroma = Path(sys.executable).parent / "chroma"
        procs.append(subprocess.Popen([str(chroma), "run", "--path", str(tmp / "chroma"), "--port", str(cport),
                                       "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        curl = f"http://127.0.0.1:{cport}"
        wait_http(curl + "/api/v2/heartbeat", procs[-1])
        env = dict(os.environ, CITECHAT_CHROMA_URL=curl, CITECHAT_DATA_DIR=str(articles), CITECHAT_EMBEDDER=embedder,
                   CITECHAT_INDEX_DIR=str(tmp / "local"), **cfg.env())
        subprocess.run([sys.executable, "-m", "citechat", "ingest", "--no-progress"], env=env, check=True,
                       capture_output=True)
        urls = []
        for _ in range(cfg.apps):
            port = free_port()
            procs.append(subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=dict(env, CITECHAT_PORT=str(port)),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}/")
            wait_http(urls[-1], procs[-1])
        from gradio_client import Client

        reference = None
        if cfg.questions != "public":
            qs = [c.question for c in read_cases(questions_file)]
            client = Client(urls[0], verbose=False)
            reference = {q: client.predict(q, api_name="/chat") for q in qs}

        def ingest_meanwhile() -> None:
            _late_articles(tmp / "extra")
            p = subprocess.run([sys.executable, "-m", "citechat", "ingest", "--no-progress", str(tmp / "extra")],
                               env=env, capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(p.stderr)

        result = load_test(urls, qs, reference, cfg.sessions, cfg.seconds,
                           ingest_meanwhile if cfg.with_ingest else None, cfg.think_s, cfg.client)
        return {**asdict(cfg), **result}
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def _row(r: dict[str, Any]) -> str:
    knobs = ", ".join([f"{k} {r[k]}" for k in ("concurrency", "question_threads") if r.get(k) is not None]
                      + ([{"gradio": "gradio_client", "chat-event": "chat event"}[r["client"]]]
                         if r.get("client") in ("gradio", "chat-event") else []))
    asked = "distinct public" if r.get("questions", "dev") == "public" else "20 dev, repeated"
    rate = r.get("cache_hit_rate")
    return (f"| {r['label']} | {asked} | {'on' if r['answer_cache'] else 'off'} | "
            f"{'-' if rate is None else f'{rate:.2f}'} | {knobs or 'app defaults'} | {r['apps']} | "
            f"{r['think_s']:g} | {r['requests']} | **{r['throughput_rps']}** | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | "
            f"{r['p99_ms']:.0f} | {r['errors']} | {r['mixed_up_answers']} |")


def load_report(result: dict[str, Any]) -> list[str]:
    """The Markdown of the load test and the lever runs."""
    if "load_test" not in result:
        return []
    lt = result["load_test"]
    how = {"gradio": "gradio_client", "chat-event": "browser-like (gradio_client on the page's own chat event, "
           "`/ask`, with its history save and sources panel)"}.get(lt.get("client"),
                                                                   "HTTP (Gradio's REST API, /gradio_api/call/chat)")
    if lt.get("questions", "dev") == "public":
        asked = ("the questions are distinct SQuAD 2.0 / XQuAD half-A questions (en-en) over their corpus, each "
                 "asked once, with the answer cache off")
        crossed = "an answer to another question"
    else:
        asked = "the questions are the dev set's 20, so many repeat"
        crossed = "an answer that differs from the same question asked alone"
    md = ["", "## Load test", "", f"{lt['sessions']} {how} sessions for {lt['seconds']} s against app.py "
          f"(Chroma server mode; run {result.get('load_started', result['started'])}). Each session is a reader: it "
          f"asks, pauses a random time of mean {lt['think_s']:g} s, asks again; {asked}. "
          f"{'An ingest by another process runs meanwhile. ' if lt['with_ingest'] else ''}Crossed: {crossed}. The "
          + ("browser's chat event is timed, with its history save. " if lt.get("client") == "chat-event" else
             "REST `/chat` event is timed, not the browser's chat event with its history save. ")
          + "Cache hits: answers served by the answer cache.", "",
          f"**{lt['throughput_rps']} answers/s, p50 {lt['p50_ms']:.0f} ms, p95 {lt['p95_ms']:.0f} ms, p99 "
          f"{lt['p99_ms']:.0f} ms, {lt['errors']} errors, {lt['mixed_up_answers']} crossed answers** "
          f"({lt['requests']} answers).", ""]
    head = ["| run | questions | answer cache | cache hits | settings | apps | pause s | answers | answers/s | p50 ms | "
            "p95 ms | p99 ms | errors | crossed |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    md += head + [_row(lt)] + [_row(r) for r in result.get("cached_runs", [])]
    if result.get("levers"):
        md += ["", "### Levers (one run each, no ingest)", ""] + head + [_row(r) for r in result["levers"]]
    return md
