"""Follow-up questions (evals/followups.jsonl): a question, then one that leans on it ("And when?", "Who opened
it?", "它有多少人口?"). Part of `make eval-public`; `python evals/followups.py` runs it alone.

The set: 42 pairs on public half-A articles (SQuAD 2.0 / XQuAD English and Chinese, CMRC 2018; CC BY-SA 4.0),
made from two consecutive questions about the same article, the second rewritten by hand with a pronoun or an
ellipsis in place of what the first one named (its gold answers are the original question's; `original` keeps
it), two of them asking what the article doesn't say; and 10 pairs on the shipped articles, four unanswerable.

Scored like the public sets (an answer is right when it holds a gold answer; abstaining is right only on
`source: null`), for the second question only, beside: the follow-up asked alone (no conversation), the
previous answer repeated (what a chat that ignores the follow-up does), and the original standalone question
(the ceiling). Public pairs use the out-of-fold decision model of their article, as the rest of the eval does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from public_sets import INDEX_ROOT, ROOT, SETS, Question, engine_for  # noqa: E402

from citechat.evaluation import holds_answer  # noqa: E402

FOLLOWUPS = ROOT / "evals" / "followups.jsonl"
SYSTEMS = ("citechat", "follow-up alone", "previous answer repeated", "original question (ceiling)")


def read_followups(path: Path = FOLLOWUPS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _own_engine():
    from citechat.config import Settings
    from citechat.engine import Engine

    data = ROOT / "data" / "articles"
    settings = Settings(index_dir=INDEX_ROOT / "own", data_dir=data, chroma_url=None)
    engine = Engine(settings)
    engine.ingest([data], progress=False)
    return engine


class _Score:
    def __init__(self) -> None:
        self.answerable = self.unanswerable = self.right = self.abstained_right = 0

    def add(self, pair: dict, answered: bool, text: str) -> bool:
        if pair["source"]:
            self.answerable += 1
            ok = answered and holds_answer(text, pair["answers"])
            self.right += ok
            return ok
        self.unanswerable += 1
        self.abstained_right += not answered
        return not answered

    def metrics(self) -> dict:
        return {"answerable": self.answerable, "unanswerable": self.unanswerable,
                "answer_accuracy": round(self.right / self.answerable, 3) if self.answerable else None,
                "abstention_accuracy": (round(self.abstained_right / self.unanswerable, 3)
                                        if self.unanswerable else None)}


def run_followups(shipped: bool = False, pairs: list[dict] | None = None) -> dict:
    """Scores per group (public English, public Chinese, own articles) and overall, per system."""
    from citechat.chat import Conversation, ask

    pairs = pairs if pairs is not None else read_followups()
    groups = {"public en": [p for p in pairs if p["set"] == "en-en"],
              "public zh": [p for p in pairs if p["set"] in ("zh-zh", "cmrc-zh")],
              "own articles": [p for p in pairs if p["set"] == "own"]}
    scores = {g: {s: _Score() for s in SYSTEMS} for g in [*groups, "all"]}
    misses = []
    oof = None
    for group, items in groups.items():
        by_corpus: dict[str, list[dict]] = {}
        for p in items:
            by_corpus.setdefault(SETS.get(p["set"], "own"), []).append(p)
        for corpus, todo in by_corpus.items():
            engine = _own_engine() if corpus == "own" else engine_for(corpus, progress=False, multilingual=False)
            engine.warm_up()
            shipped_model = getattr(engine.extractive, "decision", None)
            if corpus != "own" and not shipped and oof is None:
                from public_eval import OutOfFold

                oof = OutOfFold()
            for p in todo:
                if corpus != "own" and oof is not None:
                    oof.prepare(engine, Question(p["set"], p["first_id"], p["first"], [], p["source"], None, ""))
                conv = Conversation()
                first = ask(engine, conv, p["first"])
                turn = ask(engine, conv, p["question"])
                alone = engine.ask(p["question"])
                runs = {"citechat": (turn.answerable, turn.answer.answer),
                        "follow-up alone": (alone.answerable, alone.answer),
                        "previous answer repeated": (first.answerable, first.answer.answer)}
                if p.get("original"):
                    orig = engine.ask(p["original"])
                    runs["original question (ceiling)"] = (orig.answerable, orig.answer)
                for system, (answered, text) in runs.items():
                    ok = scores[group][system].add(p, answered, text if answered else "")
                    scores["all"][system].add(p, answered, text if answered else "")
                    if system == "citechat" and not ok:
                        misses.append({"id": p["id"], "first": p["first"], "question": p["question"],
                                       "gold": p["answers"][:2], "answer": text[:160] if answered else "(abstained)",
                                       "asked": turn.answer.question})
            engine.extractive.decision = shipped_model
    return {"pairs": len(pairs), "groups": {g: {s: v.metrics() for s, v in sc.items() if v.answerable or
                                                 v.unanswerable} for g, sc in scores.items()}, "misses": misses}


def report_lines(result: dict) -> list[str]:
    lines = ["## Follow-ups (evals/followups.jsonl)", "",
             f"{result['pairs']} pairs: the second question leans on the first. Goal: answer >= 0.75, "
             "abstain >= 0.90.", "",
             "| group | system | answerable | answer | unanswerable | abstain |", "|---|---|---|---|---|---|"]

    def f(v) -> str:
        return "-" if v is None else f"{v:.3f}"

    for group, systems in result["groups"].items():
        for system, m in systems.items():
            lines.append(f"| {group} | {system} | {m['answerable']} | {f(m['answer_accuracy'])} | "
                         f"{m['unanswerable']} | {f(m['abstention_accuracy'])} |")
    lines += ["", "The ceiling asks the original standalone question (public pairs only). Repeating the previous "
              "answer never abstains unless the first question abstained.", ""]
    if result["misses"]:
        lines.append("Misses (citechat):")
        lines += [f"- `{m['id']}` {m['first']} → {m['question']} (asked as {m['asked']!r}; gold {m['gold']}) → "
                  f"{m['answer']!r}" for m in result["misses"]]
        lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shipped", action="store_true", help="the shipped model for public pairs (not out of fold)")
    ap.add_argument("--out", type=Path, help="also write the report (Markdown) and its .json here")
    args = ap.parse_args(argv)
    result = run_followups(args.shipped)
    text = "\n".join(report_lines(result))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
