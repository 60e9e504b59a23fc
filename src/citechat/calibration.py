"""`citechat calibrate`: show what the answer decision sees on a question set of your own.

For every question it prints the best sentence's probability (from the learned decision), whether that sentence
holds the gold evidence, and the threshold of its language pair; then, per pair, the best probabilities of
answerable and unanswerable questions and the threshold that would make the fewest mistakes on this set.
The shipped thresholds come from `make train` on the public sets (docs/decision.md); a set of a few dozen
questions is a check, not enough data to move them.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

from .answer.decision import pair_of
from .evaluation import read_cases
from .language import is_cjk


def suggest(pos: list[float], neg: list[float]) -> float | None:
    """The cut-off with the fewest mistakes (ties: the widest gap), midway between neighbouring scores."""
    if not pos:
        return None
    if not neg:
        return min(pos) - 0.01
    values = sorted(set(pos + neg))
    best = None
    for lo, hi in pairwise(values):
        t = (lo + hi) / 2
        errors = sum(p < t for p in pos) + sum(n >= t for n in neg)
        key = (errors, -(hi - lo))
        if best is None or key < best[0]:
            best = (key, t)
    return best[1] if best else None


def calibrate(engine: Any, files: list[Path]) -> str:
    engine.warm_up()
    answerer = engine.extractive
    rows = []
    pos: dict[str, list[float]] = {}
    neg: dict[str, list[float]] = {}
    for f in files:
        for case in read_cases(f):
            ranked = answerer.ranked(engine.retriever.retrieve(case.question))
            best = ranked[0] if ranked else None
            p = best.scores.learned if best else 0.0
            pair = pair_of(is_cjk(case.question), is_cjk(best.text) if best else is_cjk(case.question))
            gold = next((c.scores.learned for c in ranked if case.evidence and
                         case.evidence.lower() in c.text.lower()), None)
            (pos if case.answers else neg).setdefault(pair, []).append(p)
            rows.append(f"{case.id:>6} {'ans' if case.answers else 'UNANS':5} {pair} best={p:.3f} "
                        f"gold={'-' if gold is None else f'{gold:.3f}'} threshold={answerer.decision.threshold(pair):.2f} "
                        f"{case.question[:60]}")
    out = rows + [""]
    for pair in sorted(set(pos) | set(neg)):
        a, u = sorted(pos.get(pair, [])), sorted(neg.get(pair, []))
        s = suggest(a, u)
        out += [f"{pair}: answerable best {[round(x, 2) for x in a]}",
                f"{' ' * len(pair)}  unanswerable best {[round(x, 2) for x in u]}",
                f"{' ' * len(pair)}  fewest mistakes here at {'-' if s is None else f'{s:.2f}'} "
                f"(shipped threshold {answerer.decision.threshold(pair):.2f})"]
    return "\n".join(out)
