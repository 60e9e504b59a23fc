"""The generative answerer: fluent answers from an LLM over numbered source sentences, every sentence checked.

It abstains without calling the LLM when the extractive decision abstains, and falls back to the extractive answer
(with a one-line notice) when the LLM is unreachable, too slow, or writes nothing verifiable. It also rewrites
follow-up messages into standalone questions (`condense`) with the condense prompt.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from ..retrieval import Candidate, RetrievalResult
from .extractive import ExtractiveAnswerer, citation
from .question import coverage
from .types import CANNOT_ANSWER, Answer, Answerer, final_item

log = logging.getLogger(__name__)


class LLMAnswerer(Answerer):
    """`llm`: a llama-index LLM; `prompts`: the validated prompt files; `checker`: the grounding checker;
    `relevance`: (question, [text]) -> cross-encoder logits, to check the answer addresses the question."""

    def __init__(self, llm: Any, extractive: ExtractiveAnswerer, prompts: Any, checker: Any,
                 max_sources: int = 4, timeout_s: float = 60.0,
                 relevance: Callable[[str, list[str]], Any] | None = None) -> None:
        self.llm, self.extractive, self.prompts, self.checker = llm, extractive, prompts, checker
        self.max_sources, self.timeout_s, self.relevance = max_sources, timeout_s, relevance
        self.calls = 0  # LLM calls made, so tests can prove abstentions never reach the LLM

    def answer(self, retrieved: RetrievalResult) -> Answer:
        return final_item(self.stream(retrieved), Answer)

    def messages(self, question: str, sources: dict[int, str]) -> list[Any]:
        from llama_index.core.base.llms.types import ChatMessage

        numbered = "\n".join(f"[{n}] {text}" for n, text in sources.items())
        return [
            ChatMessage(role="system", content=self.prompts.system.format(cannot_answer=CANNOT_ANSWER)),
            ChatMessage(role="user", content=self.prompts.qa.format(sources=numbered, question=question)),
        ]

    def condense(self, history: list[tuple[str, str]], message: str) -> str | None:
        """The condense prompt (llama-index's condense-plus-context pattern); None if the LLM fails or writes
        something that can't be a question."""
        from llama_index.core.base.llms.types import ChatMessage

        turns = "\n".join(f"User: {q}\nAssistant: {a[:300]}" for q, a in history[-3:])
        prompt = self.prompts.condense.format(chat_history=turns, question=message)
        try:
            out = (self.llm.chat([ChatMessage(role="user", content=prompt)]).message.content or "").strip()
        except Exception as e:  # noqa: BLE001 - the chat falls back to its own rule, but says why in the log
            log.warning("condense: the LLM failed (%s: %s); the follow-up is rewritten by rule", type(e).__name__, e)
            return None
        out = out.splitlines()[0].strip().strip('"') if out else ""
        return out if 5 <= len(out) <= 500 else None

    def select_sources(self, base: Answer, ranked: list[Candidate]) -> list[Candidate]:
        """The extractive answer's sentences first, then the next most likely candidates."""
        cited = {(c.source, c.start) for c in base.citations}
        first = [c for c in ranked if (c.source, c.start) in cited]
        rest = [c for c in ranked if c not in first]
        return (first + rest)[: self.max_sources]

    def stream(self, retrieved: RetrievalResult) -> Iterator[str | Answer]:
        """Yields text deltas while the LLM writes, then the final, verified `Answer`."""
        base, ranked = self.extractive.decide(retrieved)
        if not base.answerable:
            yield base  # abstention first: the LLM is never called on weak evidence
            return
        chosen = self.select_sources(base, ranked)
        sources = {i + 1: c.text for i, c in enumerate(chosen)}
        question = retrieved.question.text
        written: dict[str, Any] = {}
        try:
            yield from self._write(question, sources, written)
        except Exception as e:  # noqa: BLE001 - any LLM failure falls back to the extractive answer
            yield _fallback(base, f"The LLM is unavailable ({_short_error(e)}); this is the extractive answer.")
            return
        yield self._checked(retrieved, base, chosen, sources, written)

    def _write(self, question: str, sources: dict[int, str], written: dict[str, Any]) -> Iterator[str]:
        """Stream the LLM's answer (deltas), leaving the text and timings in `written`."""
        t0 = time.perf_counter()
        written.update(text="", first_token=None)
        self.calls += 1
        stream = None
        finished = False
        try:
            stream = self.llm.stream_chat(self.messages(question, sources))
            for r in stream:
                delta = r.delta or ""
                if delta and written["first_token"] is None:
                    written["first_token"] = (time.perf_counter() - t0) * 1000
                written["text"] += delta
                if delta:
                    yield delta
                if time.perf_counter() - t0 > self.timeout_s:
                    raise TimeoutError(f"no complete answer within {self.timeout_s:.0f} s")
            finished = True
        finally:
            if stream is not None and not finished:
                # A half-read HTTP stream must be finalised now, at a safe point: left to the garbage collector it
                # can be closed inside the HTTP client's pool lock during the next request and deadlock it.
                if hasattr(stream, "close"):
                    stream.close()
                del stream
                gc.collect()
        written["ms"] = (time.perf_counter() - t0) * 1000

    def _checked(self, retrieved: RetrievalResult, base: Answer, chosen: list[Candidate], sources: dict[int, str],
                 written: dict[str, Any]) -> Answer:
        """The LLM's verified sentences with renumbered citations, or the extractive answer with a notice."""
        text = written["text"]
        checks = self.checker.check_answer(text, sources)
        verified = [c for c in checks if c.verified]
        if not verified:
            why = "declined to answer" if CANNOT_ANSWER.lower().rstrip(".") in text.lower() else \
                "wrote nothing that its sources support" if text.strip() else "returned an empty answer"
            return _fallback(base, f"The LLM {why}; this is the extractive answer.")
        question = retrieved.question
        if self.relevance is not None and not question.cjk:
            # Faithful is not enough: the verified sentences must answer the question about as well as a cited
            # sentence has to (same calibrated bar as the extractive answerer), or the extractive answer is better.
            said = " ".join(c.text for c in verified)
            s = self.extractive.s
            support = float(self.relevance(question.text, [said])[0]) + s.coverage_weight * coverage(question, said)
            if support < s.min_support:
                return _fallback(base, "The LLM's answer did not address the question; this is the extractive answer.")
        renumber: dict[int, int] = {}
        for c in verified:
            for n in c.citations:
                renumber.setdefault(n, len(renumber) + 1)
        citations = [citation(new, chosen[old - 1], _score(chosen[old - 1]), _score_kind(chosen[old - 1]))
                     for old, new in renumber.items()]
        parts, sentences = [], []
        for c in checks:
            marks = sorted({renumber[n] for n in c.citations}) if c.verified else []
            sentences.append(replace(c, citations=marks))
            if c.verified:
                parts.append(c.text + " " + " ".join(f"[{m}]" for m in marks))
        timings = dict(retrieved.timings)
        timings["llm_first_token"] = written["first_token"] or written["ms"]
        timings["llm"] = written["ms"]
        return Answer(question=question.text, answer=" ".join(parts), answerable=True, citations=citations,
                      timings_ms=timings, mode="llm", sentences=sentences)


def _score(c: Candidate) -> float:
    """A cited sentence's shown score: the cross-encoder logit, else the dense cosine."""
    return c.scores.rerank if c.scores.rerank is not None else (c.scores.dense or 0.0)


def _score_kind(c: Candidate) -> str:
    return "relevance" if c.scores.rerank is not None else "similarity"


def _fallback(base: Answer, notice: str) -> Answer:
    base.notice = notice
    return base


def _short_error(e: BaseException) -> str:
    name = type(e).__name__
    if "Connection" in name or "connect" in str(e).lower():
        return "cannot connect to the server"
    if "Timeout" in name:
        return "timed out"
    return f"{name}: {str(e)[:80]}"
