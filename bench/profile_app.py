"""Where a question's time goes (`python bench/profile_app.py`; the figures of docs/performance.md "Profile").

1. In one process: cProfile over the dev questions (answer cache off), cumulative CPU per stage function.
2. The web app as `make run` starts it: CPU seconds the app process spends per question (read from /proc), with
   the answer cache off and on, and the CPU the client spends per question (gradio_client or plain HTTP).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import HttpAsker, free_port, wait_http  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STAGES = {  # (file, function) as cProfile names them -> stage
    ("embedding.py", "embed_query"): "query embedding (USE)", ("dense.py", "retrieve"): "dense search (Chroma)",
    ("keyword.py", "search"): "BM25", ("rerank.py", "score"): "cross-encoder",
    ("features.py", "candidate_features"): "answer features",
    ("extractive.py", "answer"): "answer stage (features, decision, citations)",
    ("retriever.py", "retrieve"): "retrieval (embedding, searches, fusion, cross-encoder)",
    ("engine.py", "ask"): "whole question",
}


def in_process(questions: list[str], threads: int, rounds: int = 3) -> dict[str, float]:
    """ms of CPU per question for each stage, with `threads` threads per question (cross-encoder and BLAS)."""
    from threadpoolctl import threadpool_limits

    from citechat.config import load_settings
    from citechat.engine import Engine

    threadpool_limits(threads, user_api="blas")
    engine = Engine(load_settings(answer_cache=0, question_threads=threads))
    engine.warm_up()
    for q in questions:  # warm the memoised tokens, as a running app has them
        engine.ask(q)
    prof = cProfile.Profile(time.process_time)  # CPU time, all threads of the process
    prof.enable()
    for _ in range(rounds):
        for q in questions:
            engine.ask(q)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    n = rounds * len(questions)
    out: dict[str, float] = {}
    for (path, _, func), (_, _, _, cum, _) in stats.items():
        stage = STAGES.get((Path(path).name, func))
        if stage is not None:
            out[stage] = out.get(stage, 0.0) + cum / n * 1000
    return out


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def app_cpu(questions: list[str], cache: bool, client: str, n: int = 60) -> dict[str, float]:
    """CPU ms per question of the app process and of the client, questions asked one after another."""
    port = free_port()
    env = dict(os.environ, CITECHAT_PORT=str(port), CITECHAT_ANSWER_CACHE="1024" if cache else "0")
    app = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url, app)
        if client == "gradio":
            from gradio_client import Client

            asker = Client(url, verbose=False)
        else:
            asker = HttpAsker(url)
        for q in questions:
            asker.predict(q, api_name="/chat")
        a0, c0, w0 = _cpu_seconds(app.pid), time.process_time(), time.perf_counter()
        for i in range(n):
            asker.predict(questions[i % len(questions)], api_name="/chat")
        return {"app_cpu_ms": (_cpu_seconds(app.pid) - a0) / n * 1000,
                "client_cpu_ms": (time.process_time() - c0) / n * 1000,
                "wall_ms": (time.perf_counter() - w0) / n * 1000}
    finally:
        app.terminate()
        app.wait(timeout=30)


def main() -> int:
    from citechat.evaluation import read_cases

    questions = [c.question for c in read_cases(ROOT / "evals" / "dev.jsonl")]
    print("## In one process (CPU ms per question, answer cache off)\n")
    one, two = in_process(questions, 1), in_process(questions, 2)
    print("| stage | 1 thread | 2 threads |\n|---|---|---|")
    for stage in sorted(one, key=lambda k: -one[k]):
        print(f"| {stage} | {one[stage]:.1f} | {two.get(stage, 0):.1f} |")
    print("\n## The web app (ms per question, one question at a time)\n")
    print("| answer cache | client | app CPU | client CPU | wall |\n|---|---|---|---|---|")
    for cache, client in ((False, "http"), (True, "http"), (True, "gradio")):
        r = app_cpu(questions, cache, client)
        print(f"| {'on' if cache else 'off'} | {client} | {r['app_cpu_ms']:.1f} | {r['client_cpu_ms']:.1f} | "
              f"{r['wall_ms']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
