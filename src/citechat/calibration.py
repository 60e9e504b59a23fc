"""`citechat calibrate`: measure the scores that decide answer-or-abstain, and suggest cut-offs.

For every question of the given sets it records the best cross-encoder logit and the best cross-language dense
score among sentences that pass the type and anchor checks, split by whether the question is answerable, and
the best sentence-pair support for questions no single sentence answers.
A cut-off is suggested midway between the highest unanswerable and the lowest answerable score when they
separate; otherwise at the value that makes the fewest mistakes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .answering import ExtractiveAnswerer
from .evaluation import read_cases


def _best(scores: list[tuple[float, bool]]) -> float | None:
    vals = [s for s, ok in scores if ok]
    return max(vals) if vals else None


def suggest(pos: list[float], neg: list[float]) -> float | None:
    if not pos:
        return None
    if not neg:
        return min(pos) - 0.5
    values = sorted(set(pos + neg))
    # Candidate cut-offs: midway between neighbouring observed scores. Fewest mistakes wins; ties go to the
    # widest gap (the most robust cut).
    best = None
    for lo, hi in zip(values, values[1:]):
        t = (lo + hi) / 2
        errors = sum(p < t for p in pos) + sum(n >= t for n in neg)
        key = (errors, -(hi - lo))
        if best is None or key < best[0]:
            best = (key, t)
    return best[1] if best else None


def calibrate(engine: Any, files: list[Path]) -> str:
    s = engine.settings.answer.model_copy()
    s.min_support = -1e9
    s.min_dense_crosslingual = -1e9
    probe = ExtractiveAnswerer(s, relevance=engine.extractive.relevance)
    engine.warm_up()
    rows = []
    ce_pos, ce_neg, xl_pos, xl_neg, ctx_pos, ctx_neg = [], [], [], [], [], []
    for f in files:
        for case in read_cases(f):
            r = engine.retriever.retrieve(case.question)
            q = probe._analyse(case.question, r)
            scored = [probe._score(q, n, 0.0, 0.0, r.article_tokens(n.node.metadata.get('source', '')), r)
                      for n in r.nodes]
            def is_gold(sc) -> bool:
                return bool(case.evidence) and case.evidence.lower() in sc.node.node.get_content().lower()
            # Sentence pairs are read only when no sentence passes on its own (with the real cut-offs).
            real = engine.extractive
            alone = any(x.ok for x in real._score_all(real._analyse(case.question, r), r)[0])
            byline = q.wants_outlet or q.wants_pubdate  # answered from the byline, not from sentences
            windows = [] if alone or byline else probe.context_windows(q, r, scored)
            ctx = max((w[0] for w in windows), default=None)
            if ctx is not None:  # the gold evidence may sit in either sentence, or in a full-name citation
                (ctx_pos if case.answers else ctx_neg).append(ctx)
            ce = _best([(x.support, x.ok) for x in scored if x.kind == "ce"])
            xl = _best([(x.support, x.ok) for x in scored if x.kind == "xl"])
            gold_ce = _best([(x.support, x.ok) for x in scored if x.kind == "ce" and is_gold(x)])
            gold_xl = _best([(x.support, x.ok) for x in scored if x.kind == "xl" and is_gold(x)])
            if case.answers:
                if gold_ce is not None:
                    ce_pos.append(gold_ce)
                elif gold_xl is not None:
                    xl_pos.append(gold_xl)
            else:
                if ce is not None:
                    ce_neg.append(ce)
                if xl is not None:
                    xl_neg.append(xl)
            rows.append(f"{case.id:>5} {'ans' if case.answers else 'UNANS':5} best_ce={_f(ce)} gold_ce={_f(gold_ce)} "
                        f"best_xl={_f(xl)} gold_xl={_f(gold_xl)} ctx={_f(ctx)} unknown={r.unknown_terms} "
                        f"{case.question[:60]}")
    out = rows + [
        "",
        f"support (logit + coverage): answerable gold {sorted(round(x, 2) for x in ce_pos)}",
        f"                     unanswerable best {sorted(round(x, 2) for x in ce_neg)}",
        f"  suggested min_support = {_f(suggest(ce_pos, ce_neg))} (configured {engine.settings.answer.min_support})",
        f"sentence pairs (read when no sentence passes): answerable best {sorted(round(x, 2) for x in ctx_pos)}",
        f"                     unanswerable best {sorted(round(x, 2) for x in ctx_neg)}",
        f"  suggested min_support for pairs = {_f(suggest(ctx_pos, ctx_neg))} (the same min_support applies)",
        f"cross-language dense: answerable gold {sorted(round(x, 3) for x in xl_pos)}",
        f"                      unanswerable best {sorted(round(x, 3) for x in xl_neg)}",
        f"  suggested min_dense_crosslingual = {_f(suggest(xl_pos, xl_neg), 3)} "
        f"(configured {engine.answerer.s.min_dense_crosslingual})",
    ]
    return "\n".join(out)


def _f(v: float | None, nd: int = 2) -> str:
    return "-" if v is None else f"{v:.{nd}f}"
