"""`citechat eval`: score a question set (dev.jsonl format) for answers, abstention, citations and speed."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .answer.types import Answer


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (p a whole number, 1..99), interpolated between the two nearest values
    (`statistics.quantiles`, method "inclusive"); 0.0 for no values."""
    if len(values) < 2:
        return float(values[0]) if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


@dataclass
class EvalCase:
    id: str
    question: str
    answers: list[str]
    source: str | None
    evidence: str | None
    kind: str = ""


@dataclass
class EvalResult:
    n_answerable: int = 0
    n_unanswerable: int = 0
    correct_answers: int = 0
    correct_abstentions: int = 0
    citation_hits: int = 0
    unfaithful_citations: int = 0
    cited_lengths: list[int] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    stage_ms: dict[str, list[float]] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)
    by_kind: dict[str, list[int]] = field(default_factory=dict)
    first_token_ms: list[float] = field(default_factory=list)  # LLM mode: question sent -> first token shown
    raw_prefill_ms: list[float] = field(default_factory=list)  # the server alone, same prompt, max_tokens=1
    llm_calls: int = 0
    unverified_shown_as_cited: int = 0
    modes: dict[str, int] = field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        return {
            "answer_accuracy": self.correct_answers / self.n_answerable if self.n_answerable else None,
            "abstention_accuracy": self.correct_abstentions / self.n_unanswerable if self.n_unanswerable else None,
            "citation_hit_rate": self.citation_hits / self.n_answerable if self.n_answerable else None,
            "unfaithful_citations": self.unfaithful_citations,
            "median_cited_chars": statistics.median(self.cited_lengths) if self.cited_lengths else 0,
            "latency_p50_ms": percentile(self.latencies_ms, 50),
            "latency_p95_ms": percentile(self.latencies_ms, 95),
            "stage_p50_ms": {k: round(percentile(v, 50), 1) for k, v in self.stage_ms.items()},
            "by_kind": {k: f"{v[0]}/{v[1]}" for k, v in sorted(self.by_kind.items())},
            "questions": self.n_answerable + self.n_unanswerable,
            "modes": dict(self.modes),
            "llm_calls": self.llm_calls,
            "unverified_shown_as_cited": self.unverified_shown_as_cited,
            "first_token_p50_ms": percentile(self.first_token_ms, 50) if self.first_token_ms else None,
            "raw_prefill_p50_ms": percentile(self.raw_prefill_ms, 50) if self.raw_prefill_ms else None,
            "first_token_to_prefill_ratio": (percentile(self.first_token_ms, 50) / percentile(self.raw_prefill_ms, 50))
            if self.first_token_ms and self.raw_prefill_ms else None,
        }


def read_cases(path: Path) -> list[EvalCase]:
    cases = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{i}: not valid JSON ({e.msg})") from e
        if "question" not in d:
            raise ValueError(f"{path}:{i}: missing the 'question' field")
        cases.append(EvalCase(id=str(d.get("id", i)), question=d["question"], answers=list(d.get("answers") or []),
                              source=d.get("source"), evidence=d.get("evidence"), kind=d.get("kind", "")))
    return cases


def normalise(text: str) -> str:
    """The matching rule of the eval sets: case and runs of whitespace are ignored."""
    return " ".join(text.lower().split())


def holds_answer(text: str, answers: list[str]) -> bool:
    """True if `text` contains one of the (non-empty) gold strings, under `normalise`."""
    t = normalise(text)
    return any(normalise(a) in t for a in answers if a.strip())


def answer_is_correct(case: EvalCase, ans: Answer) -> bool:
    if not case.answers:
        return not ans.answerable
    return ans.answerable and holds_answer(ans.answer, case.answers)


def citation_hit(case: EvalCase, ans: Answer) -> bool:
    if not case.evidence:
        return False
    return any(c.source == case.source and holds_answer(c.text, [case.evidence]) for c in ans.citations)


def _bust_cache(engine: Any) -> None:
    """A tiny unrelated request, so the server's prompt cache holds nothing of the next prompt."""
    from llama_index.core.base.llms.types import ChatMessage

    engine.llm.chat([ChatMessage(role="user", content="Say ok.")], max_tokens=1)


def raw_prefill_ms(engine: Any, question: str) -> float | None:
    """Time to the first token when the same prompt goes straight to the LLM server (max_tokens=1)."""
    answerer = engine.answerer
    base, ranked = answerer.extractive.decide(engine.retriever.retrieve(question))
    if not base.answerable:
        return None
    chosen = answerer.select_sources(base, ranked)
    messages = answerer.messages(question, {i + 1: c.text for i, c in enumerate(chosen)})
    _bust_cache(engine)
    t0 = time.perf_counter()
    first = None
    # Read the (one-token) stream to its end: an HTTP stream abandoned half-read is closed later by the garbage
    # collector, which can run inside the client's connection-pool lock and deadlock the next request.
    for r in engine.llm.stream_chat(messages, max_tokens=1):
        if r.delta and first is None:
            first = (time.perf_counter() - t0) * 1000
    return first if first is not None else (time.perf_counter() - t0) * 1000


def evaluate(engine: Any, cases: Iterable[EvalCase], warm: bool = True,
             compare_prefill: bool = False) -> tuple[EvalResult, list[Answer]]:
    """Run every case through the engine and score it. Models are warmed first so latency is warm latency.
    With an LLM and `compare_prefill`, each answerable question is also sent straight to the server, side by
    side, to compare our time to first token with the model's own prefill time."""
    if warm:
        engine.warm_up()
    res = EvalResult()
    answers: list[Answer] = []
    texts: dict[str, str] = {}

    def article_text(source: str) -> str:
        if source not in texts:
            art = engine.read_articles([source]).get(source)
            texts[source] = art.text if art is not None else ""
        return texts[source]

    llm_answerer = getattr(engine.answerer, "calls", None) is not None
    for case in cases:
        if llm_answerer and compare_prefill:
            raw = raw_prefill_ms(engine, case.question)
            if raw is not None:
                res.raw_prefill_ms.append(raw)
            _bust_cache(engine)
        calls_before = engine.answerer.calls if llm_answerer else 0
        ans = _timed_answer(engine, case.question, res)
        if llm_answerer:
            made = engine.answerer.calls - calls_before
            res.llm_calls += made
            if made and not case.answers:
                res.misses.append(f"{case.id} (unanswerable): the LLM was called")
        ans.id = case.id
        answers.append(ans)
        _record_answer(res, ans)
        _score(res, case, ans, article_text)
    return res, answers


def _timed_answer(engine: Any, question: str, res: EvalResult) -> Answer:
    """Ask through the streaming path; record the latency and (when text streams) the time to the first token."""
    t0 = time.perf_counter()
    ans = None
    first = None
    for item in engine.ask_stream(question):
        if isinstance(item, str):
            if first is None and item:
                first = (time.perf_counter() - t0) * 1000
        else:
            ans = item
    assert ans is not None
    res.latencies_ms.append((time.perf_counter() - t0) * 1000)
    if first is not None:
        res.first_token_ms.append(first)
    return ans


def _record_answer(res: EvalResult, ans: Answer) -> None:
    """Tally what does not depend on the gold answer: mode, unverified cited sentences, stage timings."""
    res.modes[ans.mode] = res.modes.get(ans.mode, 0) + 1
    for sent in ans.sentence_checks():
        if not sent.verified and sent.citations:
            res.unverified_shown_as_cited += 1
    for k, v in ans.timings_ms.items():
        res.stage_ms.setdefault(k, []).append(v)


def _score(res: EvalResult, case: EvalCase, ans: Answer, article_text: Callable[[str], str]) -> None:
    """Score one answer against its case: correctness (by kind), faithful citations, evidence hit, misses."""
    ok = answer_is_correct(case, ans)
    kind = res.by_kind.setdefault(case.kind or ("unanswerable" if not case.answers else "answerable"), [0, 0])
    kind[1] += 1
    kind[0] += int(ok)
    for c in ans.citations:
        res.cited_lengths.append(len(c.text))
        if article_text(c.source)[c.start: c.end] != c.text:
            res.unfaithful_citations += 1
            res.misses.append(f"{case.id}: citation [{c.n}] text is not at {c.source}[{c.start}:{c.end}]")
    if case.answers:
        res.n_answerable += 1
        res.correct_answers += int(ok)
        hit = citation_hit(case, ans)
        res.citation_hits += int(hit)
        if not ok or not hit:
            what = "wrong answer" if not ok else "answer right, citation misses the evidence"
            res.misses.append(f"{case.id} ({case.kind}): {what}: {case.question!r} -> {ans.answer[:160]!r}")
    else:
        res.n_unanswerable += 1
        res.correct_abstentions += int(ok)
        if not ok:
            res.misses.append(f"{case.id} (unanswerable): answered {case.question!r} -> {ans.answer[:160]!r}")


def format_report(res: EvalResult, path: str) -> str:
    m = res.metrics()

    def f(v: Any) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    lines = [
        f"eval of {path}: {m['questions']} questions ({res.n_answerable} answerable, {res.n_unanswerable} unanswerable)",
        f"  answer accuracy      {f(m['answer_accuracy'])}  ({res.correct_answers}/{res.n_answerable})",
        f"  abstention accuracy  {f(m['abstention_accuracy'])}  ({res.correct_abstentions}/{res.n_unanswerable})",
        f"  citation hit rate    {f(m['citation_hit_rate'])}  ({res.citation_hits}/{res.n_answerable})",
        f"  unfaithful citations {m['unfaithful_citations']}",
        "  answer modes         " + ", ".join(f"{k} {v}" for k, v in m["modes"].items())
        + (f"; LLM calls {m['llm_calls']}; unverified shown as cited {m['unverified_shown_as_cited']}"
           if m["llm_calls"] else ""),
        f"  median cited passage {m['median_cited_chars']:.0f} chars",
        f"  latency p50 / p95    {m['latency_p50_ms']:.0f} / {m['latency_p95_ms']:.0f} ms (warm)",
        "  stage p50 (ms)       " + ", ".join(f"{k} {v:.0f}" for k, v in m["stage_p50_ms"].items()),
        "  by kind              " + ", ".join(f"{k} {v}" for k, v in m["by_kind"].items()),
    ]
    if m["first_token_p50_ms"] is not None:
        lines.append(f"  LLM first token p50  {m['first_token_p50_ms']:.0f} ms")
    if m["raw_prefill_p50_ms"] is not None:
        lines.append(f"  server prefill p50   {m['raw_prefill_p50_ms']:.0f} ms (same prompts, max_tokens=1) -> ratio "
                     f"{m['first_token_to_prefill_ratio']:.2f}")
    if res.misses:
        lines.append("misses:")
        lines += [f"  - {x}" for x in res.misses]
    else:
        lines.append("misses: none")
    return "\n".join(lines)
