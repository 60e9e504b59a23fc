"""`make eval-public`: citechat on the public QA sets of ../shared/eval/public, beside two naive citers.

Each corpus is indexed (incrementally) into index-public/<corpus>. Every question goes through the real engine
(retrieval, decision, citations), and the same run scores two naive citers that never abstain: the top BM25
sentence and the top dense (USE) sentence.

Half A is also the training data of the decision model and of the multilingual reranker. So, by default, a half-A
question is answered by the models that did not train on its article (training/folds/: the decision's fold models
from `make train`, with thresholds chosen without the fold, and the reranker halves from `make train-reranker`):
every figure is out of fold, and the run stops if a question can't be placed.
`--shipped` uses the shipped model instead (right for questions it never saw, such as a held-back half).

Writes evals/results/public.md and public.json.
Usage: python evals/public_eval.py [--full] [--sets en-en,...] [--limit N] [--shipped] [--files a.jsonl,...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from public_sets import ROOT, SETS, Question, engine_for, read_set, set_file  # noqa: E402

from citechat.evaluation import holds_answer, percentile  # noqa: E402

FOLD_DIR = ROOT / "training" / "folds"
RESULTS = ROOT / "evals" / "results"


class Tally:
    """Counts for one system on one set."""

    def __init__(self) -> None:
        self.answerable = self.unanswerable = self.right = self.abstained_right = self.hits = 0
        self.fabricated = 0
        self.cited_chars: list[int] = []
        self.latency_ms: list[float] = []

    def add(self, q: Question, answered: bool, answer_text: str, citations: list[tuple[str, str, int, int]],
            article_text, ms: float | None = None) -> bool:
        if ms is not None:
            self.latency_ms.append(ms)
        for source, text, start, end in citations:
            self.cited_chars.append(len(text))
            if (article_text(source) or "")[start:end] != text:
                self.fabricated += 1
        if q.source:
            self.answerable += 1
            ok = answered and holds_answer(answer_text, q.answers)
            self.right += ok
            self.hits += any(s == q.source and q.evidence and holds_answer(t, [q.evidence]) for s, t, _, _ in citations)
            return ok
        self.unanswerable += 1
        self.abstained_right += not answered
        return not answered

    def metrics(self) -> dict:
        return {
            "answerable": self.answerable, "unanswerable": self.unanswerable,
            "answer_accuracy": round(self.right / self.answerable, 3) if self.answerable else None,
            "abstention_accuracy": round(self.abstained_right / self.unanswerable, 3) if self.unanswerable else None,
            "citation_hit": round(self.hits / self.answerable, 3) if self.answerable else None,
            "fabricated_citations": self.fabricated,
            "median_cited_chars": statistics.median(self.cited_chars) if self.cited_chars else 0,
            "latency_p50_ms": round(percentile(self.latency_ms, 50), 1) if self.latency_ms else None,
            "latency_p95_ms": round(percentile(self.latency_ms, 95), 1) if self.latency_ms else None,
        }


class OutOfFold:
    """The models that did not train on a half-A question's article: the decision's fold model (with the
    thresholds chosen without that fold) and the multilingual reranker of the other half. Refuses a question it
    can't place, or whose article a reranker trained on."""

    def __init__(self, fold_dir: Path = FOLD_DIR) -> None:
        card = fold_dir / "folds.json"
        if not card.exists():
            raise SystemExit(f"error: {card} is missing. Run `make train` first, or pass --shipped.")
        meta = json.loads(card.read_text(encoding="utf-8"))
        import lightgbm

        from citechat.answer.decision import DecisionModel
        from citechat.retrieval.multilingual import E5CrossEncoder

        nested = meta.get("fold_thresholds", {})
        self.decision = {}
        for k in range(meta["folds"]):
            path = fold_dir / f"fold{k}.txt"
            self.decision[k] = DecisionModel(path, booster=lightgbm.Booster(model_file=str(path)),
                                             thresholds=nested.get(str(k), meta["thresholds"]))
        self.question_fold: dict[str, int] = meta["question_fold"]
        self.rerankers: dict[int, E5CrossEncoder] = {}
        self.trained_on: dict[int, set[str]] = {}
        if meta.get("multilingual"):
            for half in (0, 1):
                enc = E5CrossEncoder(model_dir=fold_dir / f"xrerank-half{half}")
                enc.warm_up()
                if enc.card.get("scores_half") != half:
                    raise SystemExit(f"error: {enc.path}'s card does not say it scores half {half}.")
                self.rerankers[half], self.trained_on[half] = enc, set(enc.card.get("articles", []))

    def prepare(self, engine, q: Question) -> None:
        """Point the engine at the models that did not see q's article, or exit naming the question."""
        fold = self.question_fold.get(q.key)
        if fold is None:
            raise SystemExit(f"error: {q.key} is not in training/folds/folds.json, so no model is known not to have "
                             "trained on it; run `make train`, or pass --shipped for questions outside half A.")
        engine.extractive.decision = self.decision[fold]
        if self.rerankers:
            half = fold % 2
            if q.source and q.source in self.trained_on[half]:
                raise SystemExit(f"error: {q.key}: the reranker for half {half} trained on {q.source}.")
            engine.retriever.multilingual.encoder = self.rerankers[half]


def run_set(name: str, questions: list[Question], shipped: bool, misses: int = 0) -> dict:

    engine = engine_for(SETS[name], multilingual=shipped)  # out of fold: the half rerankers (OutOfFold.prepare)
    shipped_model = getattr(engine.extractive, "decision", None)  # None: a version without the learned decision
    shipped_reranker = engine.retriever.multilingual.encoder
    oof = None if shipped or shipped_model is None else OutOfFold()
    texts: dict[str, str | None] = {}

    def article_text(source: str) -> str | None:
        if source not in texts:
            art = engine.read_articles([source]).get(source)
            texts[source] = art.text if art is not None else None
        return texts[source]

    systems = {"citechat": Tally(), "naive BM25 top-1": Tally(), "naive dense top-1": Tally()}
    examples: list[dict] = []
    from tqdm import tqdm

    for q in tqdm(questions, desc=name, unit="q"):
        if oof is not None:
            oof.prepare(engine, q)
        t0 = time.perf_counter()
        ans = engine.ask(q.question)
        ms = (time.perf_counter() - t0) * 1000
        cits = [(c.source, c.text, c.start, c.end) for c in ans.citations]
        ok = systems["citechat"].add(q, ans.answerable, ans.answer if ans.answerable else "", cits, article_text, ms)
        if not ok and len(examples) < misses:
            examples.append({"id": q.id, "question": q.question, "gold": q.answers[:2], "answer": ans.answer[:200],
                             "reason": getattr(ans, "reason", "")})
        # The naive citers: the single top sentence, never an abstention.
        for label, nodes in (
            ("naive BM25 top-1", engine.retriever.keyword.retrieve(q.question)),
            ("naive dense top-1", engine.retriever.dense.retrieve(q.question)),
        ):
            top = nodes[0] if nodes else None
            if top is None:
                systems[label].add(q, False, "", [], article_text)
                continue
            systems[label].add(q, True, top.text, [(top.source, top.text, top.start, top.end)], article_text)
    engine.extractive.decision, engine.retriever.multilingual.encoder = shipped_model, shipped_reranker
    return {"questions": len(questions), "out_of_fold": len(questions) if oof is not None else 0,
            "systems": {k: v.metrics() for k, v in systems.items()}, "misses": examples}


def write_report(results: dict, full: bool, shipped: bool, out: Path = RESULTS) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "public.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    lines = [
        "# citechat on the public QA sets",
        "",
        f"Files: {'full' if full else 'sample (every 5th question)'} of half A in ../shared/eval/public. "
        + ("Model: the shipped one." if shipped else
           "Every citechat figure is **out of fold**: each question was answered by the decision fold model that "
           "did not train on its article, at thresholds chosen without its fold (k-fold by article, nested; `make "
           "train`), and scored by the multilingual reranker of the other half (`make train-reranker`)."),
        f"Generated by `make eval-public{' FULL=1' if full else ''}` on {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        "| set | system | answer | abstain | citation hit | fabricated | median cited chars | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def f(v) -> str:
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) and v <= 1 else f"{v:g}"

    for name, r in results["sets"].items():
        for system, m in r["systems"].items():
            lines.append(f"| {name} | {system} | {f(m['answer_accuracy'])} | {f(m['abstention_accuracy'])} | "
                         f"{f(m['citation_hit'])} | {m['fabricated_citations']} | {m['median_cited_chars']:g} | "
                         f"{f(m['latency_p50_ms'])} | {f(m['latency_p95_ms'])} |")
    lines += ["", "Naive citers never abstain, so their abstention is 0; they are not timed.", ""]
    for name, r in results["sets"].items():
        if r["misses"]:
            lines.append(f"## Some misses: {name}")
            lines += [f"- `{m['id']}` {m['question']} (gold {m['gold']}) -> {m['answer']!r}"
                      + (f" ({m['reason']})" if m["reason"] else "") for m in r["misses"]]
            lines.append("")
    if results.get("followups"):
        from followups import report_lines  # noqa: PLC0415 - evals/ is on the path when this runs

        lines += report_lines(results["followups"])
    path = out / "public.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="the full files instead of the samples")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--limit", type=int)
    ap.add_argument("--shipped", action="store_true", help="use the shipped model (not the out-of-fold ones)")
    ap.add_argument("--misses", type=int, default=8, help="misses listed per set")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for public.md and public.json")
    ap.add_argument("--no-followups", action="store_true", help="skip the follow-up pairs (evals/followups.jsonl)")
    args = ap.parse_args(argv)
    results = {"full": args.full, "shipped": args.shipped, "sets": {}}
    for name in [s for s in args.sets.split(",") if s]:
        print(f"{name}: {set_file(name, args.full)}", file=sys.stderr)
        results["sets"][name] = run_set(name, read_set(name, args.full, args.limit), args.shipped, args.misses)
    if not args.no_followups:
        from followups import run_followups  # noqa: PLC0415

        print("follow-ups: evals/followups.jsonl", file=sys.stderr)
        results["followups"] = run_followups(args.shipped)
    path = write_report(results, args.full, args.shipped, args.out)
    print(path.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
