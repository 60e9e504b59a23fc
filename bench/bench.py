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
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

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
    from citechat.ingest.chunking import split_sentences
    from citechat.ingest.loading import load_articles

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
    from citechat.ingest.chunking import SentenceChunkParser
    from citechat.config import Settings
    from citechat.embedding import make_embedder
    from citechat.ingest.indexing import Indexer
    from citechat.ingest.loading import load_articles
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
    # no answer cache: the repeats measure the pipeline (the cache is measured in the load test)
    engine = Engine(Settings(data_dir=data, index_dir=index, embedder=embedder, answer_cache=0), create=False)
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
    return {"startup_s": startup, "runs": runs, "peak_rss_mb": rss_mb, "xrerank_levers": xrerank_levers(engine, cases)}


# The multilingual cross-encoder's cost levers (issue 20): pairs per question (the first stage's best top_n are all
# it reads), batch size and sequence length. Each is timed on the same candidates, per question, one at a time.
XRERANK_LEVERS = [(8, 16, None), (4, 16, None), (12, 16, None), (8, 1, None), (8, 4, None), (8, 16, 48),
                  (8, 16, 96)]


def xrerank_levers(engine, cases) -> list[dict[str, Any]]:
    from citechat.retrieval.multilingual import E5CrossEncoder
    from citechat.retrieval.rerank import MultilingualScorer

    live = engine.retriever.multilingual
    if not isinstance(live.encoder, E5CrossEncoder):
        return []
    lists = [engine.retriever.retrieve(c.question).candidates for c in cases]
    out = []
    for top_n, batch, max_tokens in XRERANK_LEVERS:
        enc = E5CrossEncoder(model_dir=live.encoder.model_dir, threads=live.encoder.threads,
                             max_tokens=max_tokens, batch_size=batch)
        enc.warm_up()
        scorer = MultilingualScorer(enc, top_n=top_n)
        ms = []
        for c, cands in zip(cases, lists):
            t = time.perf_counter()
            scorer.run(c.question, cands)
            ms.append((time.perf_counter() - t) * 1000)
        out.append({"top_n": top_n, "batch": batch, "max_tokens": max_tokens or int(enc.card.get("max_tokens", 64)),
                    "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1)})
    return out


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


# --- load test (bench/load.py) -------------------------------------------------------------------------

from load import LoadConfig, load_report, run_load  # noqa: E402

# The levers of docs/performance.md, one load run each (`--levers`): what each setting gives on its own (on the
# dev set's repeated questions, as they were first measured).
LEVERS = [
    LoadConfig("before: no answer cache, 2 threads per question", answer_cache=False, question_threads=2,
               with_ingest=False, questions="dev"),
    LoadConfig("one thread per question", answer_cache=False, with_ingest=False, questions="dev"),
    LoadConfig("one thread per question, concurrency 2", answer_cache=False, concurrency=2, with_ingest=False, questions="dev"),
    LoadConfig("one thread per question, concurrency 8", answer_cache=False, concurrency=8, with_ingest=False, questions="dev"),
    LoadConfig("two app processes on one Chroma server", answer_cache=False, apps=2, with_ingest=False, questions="dev"),
    LoadConfig("gradio_client sessions (the client's own CPU use included)", client="gradio", with_ingest=False, questions="dev"),
    LoadConfig("capacity without the cache (no pauses)", answer_cache=False, think_s=0, with_ingest=False, questions="dev"),
    LoadConfig("capacity with the cache (no pauses)", think_s=0, with_ingest=False, questions="dev"),
]


# --- the whole benchmark ------------------------------------------------------------------------------

def run_loads(articles: Path, questions: Path, load: LoadConfig, levers: bool, embedder: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if levers:
        out["levers"] = []
        for cfg in LEVERS:
            cfg = LoadConfig(**{**asdict(cfg), "sessions": load.sessions, "seconds": load.seconds,
                                "think_s": cfg.think_s and load.think_s})
            print(f"load lever: {cfg.label} ...", flush=True)
            out["levers"].append(run_load(articles, questions, cfg, embedder))
    print(f"load test: {load.sessions} sessions for {load.seconds:.0f} s with an ingest ...", flush=True)
    out["load_test"] = run_load(articles, questions, load, embedder)
    # the answer cache on its own line: the dev set's 20 questions asked again and again
    cached = LoadConfig(**{**asdict(load), "label": "repeated dev questions, answer cache on", "answer_cache": True,
                           "questions": "dev", "client": "http", "with_ingest": False})
    print(f"load test, {cached.label} ...", flush=True)
    out["cached_runs"] = [run_load(articles, questions, cached, embedder)]
    return out


def run_bench(sizes: list[int], repeats: int, articles: Path, questions: Path, eval_files: list[Path],
              embedder: str, load: LoadConfig, levers: bool) -> dict[str, Any]:
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
        out.setdefault("xrerank_levers", {})[key] = w.get("xrerank_levers", [])
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
    if load.seconds > 0:
        out.update(run_loads(articles, questions, load, levers, embedder))
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
    for key, rows in result.get("xrerank_levers", {}).items():
        if rows:
            md += ["", f"Multilingual cross-encoder levers ({key}; the first row is the default):", "",
                   "| pairs per question | batch | max tokens | p50 ms | p95 ms |", "|---|---|---|---|---|"]
            md += [f"| {r['top_n']} | {r['batch']} | {r['max_tokens']} | {r['p50_ms']} | {r['p95_ms']} |" for r in rows]
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
    md += load_report(result)
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
    ap.add_argument("--sessions", type=int, default=100, help="concurrent sessions in the load test")
    ap.add_argument("--think-seconds", type=float, default=8.0,
                    help="mean pause of a session between answers (a reader; 0: ask again at once)")
    ap.add_argument("--levers", action="store_true", help="also run the load test once per throughput lever")
    ap.add_argument("--load-only", action="store_true",
                    help="only the load test(s); the other figures of the last run in latest.json are kept")
    args = ap.parse_args(argv)
    settings = load_settings()
    questions = Path(args.questions or ROOT / "evals" / "dev.jsonl")
    sizes = [int(x) for x in args.sizes.split(",")]
    # the headline: questions nobody asked before (no cache can serve them), with an ingest meanwhile
    load = LoadConfig("distinct public questions through the chat event, answer cache off, an ingest meanwhile", sessions=args.sessions,
                      seconds=args.load_seconds, think_s=args.think_seconds, answer_cache=False, questions="public",
                      client="chat-event")
    if args.load_only:
        result = json.loads((RESULTS / "latest.json").read_text())
        result.pop("levers", None)
        result.update(run_loads(Path(settings.data_dir), questions, load, args.levers, settings.embedder),
                      load_started=time.strftime("%Y-%m-%d %H:%M:%S"))
    else:
        result = run_bench(sizes, args.repeats, Path(settings.data_dir), questions, [questions], settings.embedder,
                           load, args.levers)
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
