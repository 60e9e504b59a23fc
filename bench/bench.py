"""`make bench` (python bench/bench.py): speed and scale, side by side with vanilla LlamaIndex, in one run.

Writes `bench/results/latest.json` and `bench/results/latest.md`. Every figure is {"median", "min", "max"} over
`--repeats` runs. Indexes of the scale corpora are cached under `bench/.cache/` so re-runs don't re-embed.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # scale.py beside it
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results"

from citechat.evaluation import percentile  # noqa: E402


def spread(values: list[float]) -> dict[str, float]:
    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def _answers(eval_files: list[Path]) -> list[str]:
    out = []
    for f in eval_files:
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out += json.loads(line).get("answers") or []
    return out


def _sentence_count(folder: Path) -> int:
    from citechat.chunking import split_sentences
    from citechat.loading import load_articles

    arts, _ = load_articles([folder])
    return sum(len(split_sentences(a.text)) for a in arts)


# --- corpora and indexes -----------------------------------------------------------------------------

def corpus_dir(size: int, articles: Path, eval_files: list[Path], embedder: str) -> tuple[Path, Path, dict]:
    """Data and index folders for a corpus of about `size` sentences (the real articles + distractors), cached."""
    from citechat.config import SCHEMA_VERSION, Settings
    from citechat.engine import Engine
    from scale import GENERATOR_VERSION, write_corpus

    key = f"{size}-g{GENERATOR_VERSION}-s{SCHEMA_VERSION}-{embedder.replace('/', '_')}"
    base = CACHE / key
    data, index, info_file = base / "data", base / "index", base / "info.json"
    if info_file.exists():
        return data, index, json.loads(info_file.read_text())
    shutil.rmtree(base, ignore_errors=True)
    data.mkdir(parents=True)
    for f in articles.iterdir():
        if f.is_file():
            shutil.copy2(f, data / f.name)
    real = _sentence_count(data)
    if size > real:
        write_corpus(data / "distractors", size - real, exclude=_answers(eval_files))
    engine = Engine(Settings(data_dir=data, index_dir=index, embedder=embedder))
    t0 = time.perf_counter()
    report = engine.ingest([data], progress=True)
    secs = time.perf_counter() - t0
    info = {"size": size, "sentences": engine.store.count(), "articles": len(engine.store.list_articles()),
            "ingest_seconds": round(secs, 1), "chunks_per_s": round(report.sentences_embedded / secs, 1)}
    info_file.write_text(json.dumps(info))
    return data, index, info


def ingest_ratio(embedder_name: str, eval_files: list[Path], sentences: int = 5000,
                 workers: int | None = None) -> dict[str, Any]:
    """Pipeline throughput (clean, split, embed, write to Chroma) vs the embedder's raw encode on the same texts
    (one process, its default threads, batches of 64). `workers`: embedding processes (None: the default)."""
    from citechat.chunking import SentenceChunkParser
    from citechat.config import Settings
    from citechat.embedding import make_embedder
    from citechat.indexing import Indexer
    from citechat.loading import load_articles
    from scale import write_corpus
    from citechat.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_corpus(data, sentences, exclude=_answers(eval_files), seed=11)
        arts, _ = load_articles([data])
        parser = SentenceChunkParser()
        texts = [n.get_content() for a in arts for n in parser.article_nodes(a)]
        embedder = make_embedder(embedder_name)
        embedder.warm_up()
        embedder.embed_documents(texts[:64])  # warm
        t0 = time.perf_counter()
        for k in range(0, len(texts), 64):
            embedder.embed_documents(texts[k: k + 64])
        raw = time.perf_counter() - t0
        settings = Settings(data_dir=data, index_dir=Path(tmp) / "index", embedder=embedder_name,
                            embed_workers=workers)
        store = Store(settings, embedder.name)
        t0 = time.perf_counter()
        Indexer(settings, store, embedder).ingest([data], progress=False)
        pipe = time.perf_counter() - t0
    return {"chunks": len(texts), "raw_s": raw, "pipeline_s": pipe, "raw_chunks_per_s": len(texts) / raw,
            "pipeline_chunks_per_s": len(texts) / pipe, "ratio": pipe / raw}


# --- query worker (a subprocess per corpus size, so peak RSS is the app's own) -----------------------

def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: on Linux ru_maxrss survives fork+exec, so a worker
    started by a big parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def query_worker(data: Path, index: Path, questions: Path, repeats: int, embedder: str) -> dict[str, Any]:
    from citechat.config import Settings
    from citechat.engine import Engine
    from citechat.evaluation import evaluate, read_cases

    t0 = time.perf_counter()
    engine = Engine(Settings(data_dir=data, index_dir=index, embedder=embedder), create=False)
    engine.warm_up()
    startup = time.perf_counter() - t0
    cases = read_cases(questions)
    runs = []
    for _ in range(repeats):
        res, _ = evaluate(engine, cases, warm=False)
        m = res.metrics()
        stages = {k: {"p50": percentile(v, 50), "p95": percentile(v, 95)} for k, v in res.stage_ms.items()}
        runs.append({"p50": m["latency_p50_ms"], "p95": m["latency_p95_ms"], "stages": stages,
                     "answer_accuracy": m["answer_accuracy"], "abstention_accuracy": m["abstention_accuracy"],
                     "citation_hit_rate": m["citation_hit_rate"], "median_cited_chars": m["median_cited_chars"]})
    rss_mb = _peak_rss_mb()  # the app's work only, not the probe below
    for run in runs:  # hybrid search + rerank without answering: the reference for the answer stage's cost
        retrieval_only = []
        for c in cases:
            t = time.perf_counter()
            engine.retriever.retrieve(c.question)
            retrieval_only.append((time.perf_counter() - t) * 1000)
        run["retrieval_only_p50"] = percentile(retrieval_only, 50)
    return {"startup_s": startup, "runs": runs, "peak_rss_mb": rss_mb}


def _run_worker(data: Path, index: Path, questions: Path, repeats: int, embedder: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(data), str(index), str(questions), str(repeats),
           embedder]
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    if p.returncode != 0:
        raise RuntimeError(f"query worker failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


# --- vanilla LlamaIndex baseline -----------------------------------------------------------------------

def baseline_vanilla(data: Path, questions: Path, repeats: int, embedder_name: str) -> dict[str, Any]:
    """VectorStoreIndex on Chroma, default SentenceSplitter, same embedder, top-k 2, no reranker, no abstention.
    Its 'answer' is the text of the two retrieved chunks (as generous as it can be without an LLM)."""
    import chromadb
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from citechat.embedding import make_embedder
    from citechat.evaluation import read_cases

    embedder = make_embedder(embedder_name)
    with tempfile.TemporaryDirectory() as tmp:
        client = chromadb.PersistentClient(path=tmp, settings=chromadb.config.Settings(anonymized_telemetry=False))
        store = ChromaVectorStore(chroma_collection=client.get_or_create_collection("vanilla"))
        docs = SimpleDirectoryReader(str(data), recursive=True).load_data()
        t0 = time.perf_counter()
        index = VectorStoreIndex.from_documents(docs, storage_context=StorageContext.from_defaults(vector_store=store),
                                                embed_model=embedder.as_llama_index())
        ingest_s = time.perf_counter() - t0
        retriever = index.as_retriever(similarity_top_k=2)
        cases = read_cases(questions)
        retriever.retrieve("warm up")
        runs = []
        for _ in range(repeats):
            lat, correct, hits, abst, lengths = [], 0, 0, 0, []
            for c in cases:
                t = time.perf_counter()
                nodes = retriever.retrieve(c.question)
                lat.append((time.perf_counter() - t) * 1000)
                text = " ".join(n.node.get_content() for n in nodes)
                lengths += [len(n.node.get_content()) for n in nodes]
                if c.answers:
                    correct += any(a.lower() in text.lower() for a in c.answers)
                    hits += any(Path(n.node.metadata.get("file_path", "")).name == c.source and c.evidence
                                and c.evidence.lower() in n.node.get_content().lower() for n in nodes)
                else:
                    abst += 0  # it always answers
            n_ans = sum(1 for c in cases if c.answers)
            runs.append({"p50": percentile(lat, 50), "p95": percentile(lat, 95), "answer_accuracy": correct / n_ans,
                         "citation_hit_rate": hits / n_ans, "abstention_accuracy": 0.0,
                         "median_cited_chars": statistics.median(lengths) if lengths else 0})
        chunks = len(client.get_collection("vanilla").get(include=[])["ids"])
    return {"runs": runs, "chunks": chunks, "ingest_s": ingest_s}


# --- load test ----------------------------------------------------------------------------------------

def same_answer(question: str, out: dict, ref: dict) -> bool:
    """An answer matches the same question asked alone (its reference): same question, answer and cited sources.
    A difference under load is a sign of crossed sessions."""
    return out.get("question") == question and [c["source"] for c in out.get("citations", [])] == \
        [c["source"] for c in ref.get("citations", [])] and out.get("answer") == ref.get("answer")


def load_test(url: str, questions: list[str], reference: dict[str, dict], sessions: int, seconds: float,
              during: Callable[[], None] | None = None) -> dict[str, Any]:
    """`sessions` gradio_client sessions asking in a loop for `seconds`; optional work (an ingest) meanwhile."""
    from gradio_client import Client

    lat: list[float] = []
    errors: list[str] = []
    mixups = 0
    lock = threading.Lock()
    deadline = time.time() + seconds

    def session(i: int) -> None:
        nonlocal mixups
        client = Client(url, verbose=False)
        k = i
        while time.time() < deadline:
            q = questions[k % len(questions)]
            k += 1
            t = time.perf_counter()
            try:
                out = client.predict(q, api_name="/chat")
            except Exception as e:  # noqa: BLE001 - every failure is counted
                with lock:
                    errors.append(f"{type(e).__name__}: {e}"[:200])
                continue
            dt = (time.perf_counter() - t) * 1000
            same = same_answer(q, out, reference[q])
            with lock:
                lat.append(dt)
                mixups += 0 if same else 1

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
    return {"sessions": sessions, "seconds": round(wall, 1), "requests": len(lat), "errors": len(errors),
            "error_samples": errors[:5], "mixed_up_answers": mixups, "throughput_rps": round(len(lat) / wall, 2),
            "p50_ms": round(percentile(lat, 50), 1), "p95_ms": round(percentile(lat, 95), 1),
            "p99_ms": round(percentile(lat, 99), 1)}


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_load(articles: Path, questions_file: Path, sessions: int, seconds: float, concurrency: int,
             with_ingest: bool, embedder: str) -> dict[str, Any]:
    """The app (`app.py`, as `make run` starts it) on a Chroma server; a second process ingests meanwhile."""
    from citechat.evaluation import read_cases

    tmp = Path(tempfile.mkdtemp(prefix="citechat-load-"))
    procs: list[subprocess.Popen] = []
    try:
        cport, aport = _free_port(), _free_port()
        chroma = Path(sys.executable).parent / "chroma"
        procs.append(subprocess.Popen([str(chroma), "run", "--path", str(tmp / "chroma"), "--port", str(cport),
                                       "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        curl = f"http://127.0.0.1:{cport}"
        _wait_http(curl + "/api/v2/heartbeat", procs[-1])
        env = dict(os.environ, CITECHAT_CHROMA_URL=curl, CITECHAT_DATA_DIR=str(articles), CITECHAT_EMBEDDER=embedder,
                   CITECHAT_INDEX_DIR=str(tmp / "local"), CITECHAT_PORT=str(aport),
                   CITECHAT_CONCURRENCY=str(concurrency))
        subprocess.run([sys.executable, "-m", "citechat", "ingest", "--no-progress"], env=env, check=True,
                       capture_output=True)
        procs.append(subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        url = f"http://127.0.0.1:{aport}/"
        _wait_http(url, procs[-1])
        from gradio_client import Client

        qs = [c.question for c in read_cases(questions_file)]
        client = Client(url, verbose=False)
        reference = {q: client.predict(q, api_name="/chat") for q in qs}

        def ingest_meanwhile() -> None:
            extra = tmp / "extra"
            extra.mkdir()
            for i in range(3):
                (extra / f"late_{i}.txt").write_text(
                    f"Late story {i}\n\nThe Vellmar orchestra gave {300 + i} concerts in the new hall.", encoding="utf-8")
            p = subprocess.run([sys.executable, "-m", "citechat", "ingest", "--no-progress", str(extra)], env=env,
                               capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(p.stderr)

        result = load_test(url, qs, reference, sessions, seconds, ingest_meanwhile if with_ingest else None)
        result["concurrency_limit"] = concurrency
        result["ingest_during_load"] = with_ingest
        return result
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


# --- the whole benchmark ------------------------------------------------------------------------------

def run_bench(sizes: list[int], repeats: int, articles: Path, questions: Path, eval_files: list[Path],
              embedder: str, load_seconds: float, sessions: int, sweep: list[int] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                       "platform": platform.platform()},
                           "embedder": embedder, "repeats": repeats, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    print("ingest: pipeline vs raw encode ...", flush=True)
    # Throughput is a steady-state figure, so the headline ratio is taken on 5,000 sentences; the small run shows
    # the fixed costs, and the 1-process run shows what the embedding worker processes contribute.
    variants = {"5000": (5000, None), "1500": (1500, None), "5000_one_process": (5000, 0)}
    by_variant = {k: [ingest_ratio(embedder, eval_files, n, w) for _ in range(repeats)] for k, (n, w) in variants.items()}
    ratios = by_variant["5000"]
    out["ingest_pipeline_to_raw_ratio"] = spread([r["ratio"] for r in ratios])
    out["ingest_pipeline_to_raw_ratio_by_run"] = {k: spread([r["ratio"] for r in v]) for k, v in by_variant.items()}
    out["ingest_chunks_per_s"] = {"pipeline": spread([r["pipeline_chunks_per_s"] for r in ratios]),
                                  "raw_encode": spread([r["raw_chunks_per_s"] for r in ratios]),
                                  "chunks": ratios[0]["chunks"]}
    out["corpora"], out["query_p50_ms"], out["query_p95_ms"] = {}, {}, {}
    out["stage_p50_ms"], out["dev_answer_accuracy"], out["citation_hit_rate"], out["peak_rss_mb"] = {}, {}, {}, {}
    out["abstention_accuracy"] = {}
    for size in sizes:
        print(f"corpus of {size} sentences ...", flush=True)
        data, index, info = corpus_dir(size, articles, eval_files, embedder)
        key = str(info["sentences"]) if size <= 5 else str(size)
        key = "5_articles" if size <= 5 else key
        out["corpora"][key] = info
        w = _run_worker(data, index, questions, repeats, embedder)
        runs = w["runs"]
        out["query_p50_ms"][key] = spread([r["p50"] for r in runs])
        out["query_p95_ms"][key] = spread([r["p95"] for r in runs])
        out.setdefault("retrieval_only_p50_ms", {})[key] = spread([r["retrieval_only_p50"] for r in runs])
        out.setdefault("answer_to_retrieval_only_ratio", {})[key] = spread(
            [r["p50"] / r["retrieval_only_p50"] for r in runs])
        stages = sorted({s for r in runs for s in r["stages"]})
        out["stage_p50_ms"][key] = {s: spread([r["stages"][s]["p50"] for r in runs if s in r["stages"]]) for s in stages}
        out["dev_answer_accuracy"][key] = spread([r["answer_accuracy"] for r in runs])
        out["abstention_accuracy"][key] = spread([r["abstention_accuracy"] for r in runs])
        out["citation_hit_rate"][key] = spread([r["citation_hit_rate"] for r in runs])
        out["peak_rss_mb"][key] = round(w["peak_rss_mb"], 1)
    print("vanilla LlamaIndex baseline ...", flush=True)
    b = baseline_vanilla(articles, questions, repeats, embedder)
    out["baseline"] = {
        "setup": "VectorStoreIndex on Chroma, default SentenceSplitter, same embedder, top-k 2, no LLM",
        "chunks": b["chunks"],
        "query_p50_ms": {"5_articles": spread([r["p50"] for r in b["runs"]])},
        "query_p95_ms": {"5_articles": spread([r["p95"] for r in b["runs"]])},
        "dev_answer_accuracy": {"5_articles": spread([r["answer_accuracy"] for r in b["runs"]])},
        "citation_hit_rate": {"5_articles": spread([r["citation_hit_rate"] for r in b["runs"]])},
        "abstention_accuracy": {"5_articles": 0.0},
        "median_cited_chars": {"5_articles": b["runs"][0]["median_cited_chars"]},
    }
    if load_seconds > 0:
        if sweep:
            out["concurrency_sweep"] = []
            for c in sweep:
                print(f"load sweep: concurrency_limit={c} ...", flush=True)
                out["concurrency_sweep"].append(run_load(articles, questions, sessions, min(load_seconds, 20), c,
                                                         False, embedder))
        print(f"load test: {sessions} sessions for {load_seconds:.0f} s with an ingest ...", flush=True)
        from citechat.config import Settings

        out["load_test"] = run_load(articles, questions, sessions, load_seconds, Settings().concurrency, True, embedder)
    return out


def write_report(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    md = ["# citechat benchmark", "", f"Run {result['started']} on {result['machine']['cpus']} CPUs, "
          f"embedder {result['embedder']}, {result['repeats']} repeats (median [min-max]).", ""]

    def f(x: dict | float | None, unit: str = "") -> str:
        if isinstance(x, dict):
            if x.get("median") is None:
                return "n/a"
            return f"{x['median']:g}{unit} [{x['min']:g}-{x['max']:g}]"
        return "n/a" if x is None else f"{x:g}{unit}"

    md += ["## Ingest", "", f"- pipeline / raw encode time: **{f(result['ingest_pipeline_to_raw_ratio'])}** "
           f"({result['ingest_chunks_per_s']['chunks']} chunks; pipeline {f(result['ingest_chunks_per_s']['pipeline'])}"
           f" chunks/s, raw {f(result['ingest_chunks_per_s']['raw_encode'])} chunks/s)"]
    by_run = result.get("ingest_pipeline_to_raw_ratio_by_run", {})
    md += [f"- {k.replace('_', ' ')} sentences: {f(v)}" for k, v in by_run.items()] + [""]
    md += ["## Queries (extractive, warm)", "", "| corpus | sentences | p50 ms | p95 ms | answer acc. | abstention | "
           "citation hit | peak RSS MB |", "|---|---|---|---|---|---|---|---|"]
    for key, info in result["corpora"].items():
        md.append(f"| {key} | {info['sentences']} | {f(result['query_p50_ms'][key])} | {f(result['query_p95_ms'][key])} | "
                  f"{f(result['dev_answer_accuracy'][key])} | {f(result['abstention_accuracy'][key])} | "
                  f"{f(result['citation_hit_rate'][key])} | {result['peak_rss_mb'][key]} |")
    md += ["", "Stage p50 (ms):", ""]
    for key, st in result["stage_p50_ms"].items():
        md.append(f"- {key}: " + ", ".join(f"{s} {f(v)}" for s, v in st.items()))
    b = result["baseline"]
    md += ["", "## Vanilla LlamaIndex baseline (5 articles)", "", f"{b['setup']}; {b['chunks']} chunks.", "",
           "| | citechat | vanilla |", "|---|---|---|",
           f"| answer accuracy | {f(result['dev_answer_accuracy']['5_articles'])} | {f(b['dev_answer_accuracy']['5_articles'])} |",
           f"| citation hit | {f(result['citation_hit_rate']['5_articles'])} | {f(b['citation_hit_rate']['5_articles'])} |",
           f"| abstention | {f(result['abstention_accuracy']['5_articles'])} | 0 |",
           f"| query p50 ms | {f(result['query_p50_ms']['5_articles'])} | {f(b['query_p50_ms']['5_articles'])} (retrieval only) |",
           f"| cited passage, median chars | (see eval) | {b['median_cited_chars']['5_articles']} |",
           f"| retrieval only (search + rerank) p50 ms | {f(result.get('retrieval_only_p50_ms', {}).get('5_articles'))} | "
           f"{f(b['query_p50_ms']['5_articles'])} |",
           f"| full answer / own retrieval-only time | {f(result.get('answer_to_retrieval_only_ratio', {}).get('5_articles'))} | - |"]
    if "load_test" in result:
        lt = result["load_test"]
        md += ["", "## Load test", "", f"{lt['sessions']} gradio_client sessions for {lt['seconds']} s against app.py "
               f"(Chroma server mode, concurrency_limit {lt['concurrency_limit']}), with an ingest by another process "
               f"during the run: {lt['requests']} answers, {lt['throughput_rps']} req/s, p50 {lt['p50_ms']} ms, "
               f"p95 {lt['p95_ms']} ms, p99 {lt['p99_ms']} ms, **{lt['errors']} errors**, "
               f"{lt['mixed_up_answers']} answers that differ from the same question asked alone."]
        for s in result.get("concurrency_sweep", []):
            md.append(f"- concurrency_limit {s['concurrency_limit']}: {s['throughput_rps']} req/s, p50 {s['p50_ms']} ms, "
                      f"p95 {s['p95_ms']} ms, errors {s['errors']}")
    (RESULTS / "latest.md").write_text("\n".join(md) + "\n")
    return RESULTS / "latest.json"


def main(argv: list[str] | None = None) -> int:
    import argparse

    from citechat.config import load_settings

    ap = argparse.ArgumentParser(description="speed and scale benchmark (`make bench`; writes bench/results/)")
    ap.add_argument("--sizes", default="5,10000,50000", help="corpus sizes in sentences (5 = the five articles)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--questions", help="question set (default evals/dev.jsonl)")
    ap.add_argument("--load-seconds", type=float, default=60, help="load test length (0 skips it)")
    ap.add_argument("--sessions", type=int, default=20, help="concurrent sessions in the load test")
    ap.add_argument("--sweep", default="", help="also measure these Gradio concurrency limits, e.g. 1,4,8")
    args = ap.parse_args(argv)
    settings = load_settings()
    questions = Path(args.questions or ROOT / "evals" / "dev.jsonl")
    sizes = [int(x) for x in args.sizes.split(",")]
    sweep = [int(x) for x in args.sweep.split(",")] if args.sweep else None
    result = run_bench(sizes, args.repeats, Path(settings.data_dir), questions, [questions], settings.embedder,
                       args.load_seconds, args.sessions, sweep)
    path = write_report(result)
    print((path.parent / "latest.md").read_text())
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        import logging
        import warnings

        warnings.filterwarnings("ignore")
        logging.disable(logging.WARNING)
        d, i, q, r, e = sys.argv[2:7]
        print(json.dumps(query_worker(Path(d), Path(i), Path(q), int(r), e)))
    else:
        sys.exit(main())
