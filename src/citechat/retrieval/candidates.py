"""What retrieval hands to answering: typed candidates with named scores, corpus statistics, and the result."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from ..answer.question import QuestionInfo


@dataclass
class Scores:
    """A candidate's scores, one per stage that scored it (None: that stage did not see it)."""

    dense: float | None = None  # cosine of the question and sentence embeddings
    bm25: float | None = None  # BM25 of the question's words
    bm25_translated: float | None = None  # BM25 of an English question's dictionary translation (Chinese words)
    fused: float = 0.0  # reciprocal-rank fusion over every dense and BM25 list
    rerank: float | None = None  # the English cross-encoder's logit (English question and sentence only)
    xrerank: float | None = None  # the multilingual cross-encoder's logit (any language pair; the best few only)
    learned: float | None = None  # the answer decision's probability that the sentence holds the answer

    def merge(self, other: Scores) -> None:
        """Take every score `other` has (the same sentence found by another pass)."""
        for f in fields(self):
            value = getattr(other, f.name)
            if value is not None and f.name != "fused":
                setattr(self, f.name, value)


@dataclass
class Candidate:
    """One retrieved sentence: where it is, what it says, and how each stage scored it."""

    id: str
    text: str
    source: str  # the article's file name
    start: int  # character offsets of the sentence in the article's cleaned text
    end: int
    content_hash: str = ""  # the article version it was cut from
    title: str = ""
    outlet: str = ""
    date: str = ""
    context_start: int = 0  # the chunk around the sentence (what the sources panel shows)
    context_end: int = 0
    neighbours: str = ""  # the sentences before and after it in the article (for the decision)
    order: int = 0  # its place in the fused list (after name routing); the decision breaks rank ties by it
    scores: Scores = field(default_factory=Scores)

    @classmethod
    def from_record(cls, id: str, text: str, meta: dict[str, Any]) -> Candidate:
        """A candidate from a stored sentence's metadata (as the store keeps it)."""
        start, end = int(meta.get("start", 0)), int(meta.get("end", 0))
        return cls(id=id, text=text, source=str(meta.get("source", "")), start=start, end=end,
                   content_hash=str(meta.get("content_hash", "")), title=str(meta.get("title", "")),
                   outlet=str(meta.get("outlet", "")), date=str(meta.get("date", "")),
                   context_start=int(meta.get("chunk_start", start)), context_end=int(meta.get("chunk_end", end)))


def idf(df: int, n: int) -> float:
    """Inverse article frequency of a token found in `df` of `n` articles."""
    return math.log((n + 1) / (df + 0.5))


@dataclass(frozen=True)
class CorpusStats:
    """The collection's words per article, as of the keyword index's last refresh (answering's features use it)."""

    tokens: dict[str, set[str]]  # article -> its BM25 tokens
    df: dict[str, int]  # token -> how many articles use it

    @property
    def articles(self) -> int:
        return len(self.tokens)

    def article_tokens(self, source: str) -> set[str]:
        return self.tokens.get(source, set())

    def article_frequency(self, token: str) -> int:
        return self.df.get(token, 0)

    def idf(self, token: str) -> float:
        return idf(self.df.get(token, 0), self.articles)

    def is_distinctive(self, tokens: set[str]) -> bool:
        """A name is distinctive if it occurs in some articles, but few (at most 10%, or 2)."""
        limit = max(2, int(0.1 * self.articles))
        return 0 < min(self.article_frequency(t) for t in tokens) <= limit


EMPTY_CORPUS = CorpusStats({}, {})


@dataclass
class RetrievalResult:
    """Everything retrieval found for one question: plain data, no handle on the store."""

    question: QuestionInfo
    candidates: list[Candidate]
    timings: dict[str, float]
    unknown_terms: list[str]  # the question's names that no indexed sentence has (also not as pinyin)
    corpus: CorpusStats = EMPTY_CORPUS
    revision: str = ""  # the store revision searched (answers to it stay valid until the revision moves)
