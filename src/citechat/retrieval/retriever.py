"""The retrieval stage for one question: dense and keyword passes, fusion, name routing, rerank."""

from __future__ import annotations

import time

from ..answer.question import QuestionInfo, analyse_question
from ..config import Settings
from ..embedding import Embedder
from ..language import is_cjk, tokenize
from ..store import Store
from .candidates import Candidate, CorpusStats, RetrievalResult
from .dense import DenseRetriever, Query
from .fusion import reciprocal_rank_fusion
from .keyword import BM25Retriever, KeywordIndex
from .multilingual import PairScorer, make_pair_scorer
from .rerank import CrossEncoderRanker, MultilingualScorer, OnnxCrossEncoder

FOCUS_ARTICLES = 50  # at most this many articles get their own search pass for a distinctive name


class Retriever:
    """Hybrid search then rerank, over one store. Thread-safe for questions."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder,
                 encoder: OnnxCrossEncoder | None = None, multilingual: PairScorer | None = None) -> None:
        r = settings.retrieval
        self.dense = DenseRetriever(store, embedder, r.dense_top_k)
        self.keyword = BM25Retriever(store, r.bm25_top_k)
        self.rrf_k = r.rrf_k
        if encoder is None and r.reranker != "none":
            encoder = OnnxCrossEncoder(threads=settings.question_threads or 2, max_tokens=r.rerank_max_tokens)
        self.encoder = encoder
        self.ranker = CrossEncoderRanker(encoder, top_n=r.rerank_top_n, first_round=r.rerank_first_round,
                                         confident_logit=r.rerank_confident_logit)
        if multilingual is None:
            multilingual = make_pair_scorer(r.multilingual_reranker, threads=settings.question_threads or 2,
                                            max_tokens=r.multilingual_max_tokens)
        self.multilingual = MultilingualScorer(multilingual, top_n=r.multilingual_top_n,
                                               skip_english=r.multilingual_skip_english and encoder is not None)

    def warm_up(self) -> None:
        self.dense.embedder.warm_up()
        if self.encoder is not None:
            self.encoder.warm_up()
        if self.multilingual.encoder is not None:
            self.multilingual.encoder.warm_up()
        self.keyword.refresh()

    def revision(self) -> str:
        """The store revision questions are answered from now (BM25 is rebuilt first if it moved)."""
        return self.keyword.refresh()

    def retrieve(self, question: QuestionInfo | str, sources: list[str] | None = None) -> RetrievalResult:
        """Ranked candidates for one analysed question, with per-stage timings (ms). `sources`: search only these
        articles (None: all)."""
        info = analyse_question(question) if isinstance(question, str) else question
        kw = self.keyword.snapshot()  # one revision per question: everything below reads this one index
        stats, revision = kw.stats, kw.revision or ""
        names = [g for g in info.name_tokens if stats.is_distinctive(g)]
        if sources is not None and not sources:
            return RetrievalResult(info, [], {}, _unknown_terms(info, kw), stats, revision)
        allowed = set(sources) if sources is not None else None
        focus = [s for s, toks in stats.tokens.items() if any(g & toks for g in names)
                 and (allowed is None or s in allowed)][:FOCUS_ARTICLES] or None
        candidates, timings = self._search(kw, info.text, focus, sources)
        candidates = _route_by_names(names, candidates, stats)
        for i, c in enumerate(candidates):
            c.order = i
            c.neighbours = kw.neighbours(c.id)
        t0 = time.perf_counter()
        candidates = self.ranker.run(info.text, candidates)
        t1 = time.perf_counter()
        candidates = self.multilingual.run(info.text, candidates)
        timings["rerank"] = (t1 - t0) * 1000
        timings["xrerank"] = (time.perf_counter() - t1) * 1000
        return RetrievalResult(info, candidates, timings, _unknown_terms(info, kw), stats, revision)

    def _search(self, kw: KeywordIndex, text: str, focus: list[str] | None,
                sources: list[str] | None = None) -> tuple[list[Candidate], dict[str, float]]:
        """Fused dense and keyword candidates, only from `sources` if given. `focus`: articles with the question's
        distinctive names; they get their own dense and BM25 pass, so their sentences can't be crowded out by
        look-alikes from thousands of other articles. An English question over Chinese articles is also searched
        with its dictionary translation, so Chinese sentences get a keyword match too."""
        t0 = time.perf_counter()
        qvec = self.dense.embed(text)
        t1 = time.perf_counter()
        passes = [Query(text, qvec, sources)] + ([Query(text, qvec, focus)] if focus else [])
        dense_lists = [[c for c in self.dense.retrieve(q) if kw.is_complete(c)] for q in passes]
        t2 = time.perf_counter()
        tokens, top_k = tokenize(text), self.keyword.top_k
        keyword_lists = [kw.search(tokens, top_k, sources)] + ([kw.search(tokens, top_k, focus)] if focus else [])
        if not is_cjk(text) and kw.has_chinese:
            keyword_lists.append(kw.search(kw.translate(text), top_k, sources, key="bm25_translated"))
        t3 = time.perf_counter()
        fused = reciprocal_rank_fusion([*dense_lists, *keyword_lists], self.rrf_k)
        self.dense.fill_scores(fused, qvec)
        t4 = time.perf_counter()
        timings = {"embed": (t1 - t0) * 1000, "dense": (t2 - t1) * 1000, "bm25": (t3 - t2) * 1000,
                   "fusion": (t4 - t3) * 1000}
        return fused, timings


def _unknown_terms(info: QuestionInfo, kw: KeywordIndex) -> list[str]:
    """The question's names and Chinese words that occur in no indexed sentence (also not as pinyin)."""
    known = kw.vocab
    if not known:
        return []
    out = [term for term in info.names if (toks := tokenize(term)) and not any(t in known for t in toks)]
    return out + [w for w in info.zh_terms if w not in known]


def _route_by_names(names: list[set[str]], candidates: list[Candidate], stats: CorpusStats) -> list[Candidate]:
    """Candidates from articles with more of the question's distinctive names first (stable: the fused order
    holds within each group)."""
    if not names:
        return candidates
    return sorted(candidates, key=lambda c: -sum(1 for g in names if g & stats.article_tokens(c.source)))
