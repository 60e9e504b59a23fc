"""Wires settings, models, store, retriever and answerer together. One `Engine` per process; thread-safe asks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from .answer.decision import DecisionModel
from .answer.extractive import ExtractiveAnswerer
from .answer.generative import LLMAnswerer
from .answer.grounding import GroundingChecker
from .answer.question import analyse_question
from .answer.types import Answer, Answerer, final_item
from .answer_cache import AnswerCache
from .config import Settings
from .embedding import Embedder, make_embedder
from .errors import QuestionError
from .filters import ArticleFilter
from .ingest.indexing import Indexer
from .ingest.report import IngestReport
from .llm import make_llm
from .prompts import load_prompts
from .retrieval import OnnxCrossEncoder, Retriever
from .store import Store, StoredArticle

log = logging.getLogger(__name__)


class Engine:
    """The citechat engine: ingest articles and answer questions with citations."""

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None,
                 encoder: OnnxCrossEncoder | None = None, create: bool = True) -> None:
        self.settings = settings or Settings()
        self.embedder = embedder or make_embedder(self.settings.embedder)
        self.store = Store(self.settings, self.embedder.name, create=create)
        self.retriever = Retriever(self.settings, self.store, self.embedder, encoder)
        answer_settings = self.settings.answer
        encoder = self.retriever.encoder
        relevance = encoder.score if encoder is not None else None  # cross-encoder logits for (question, texts)
        decision = DecisionModel(answer_settings.decision_model, min_abstention=answer_settings.min_abstention)
        self.extractive = ExtractiveAnswerer(answer_settings, decision, self.store)
        self.answerer: Answerer = self.extractive
        self.llm = make_llm(self.settings)
        if self.llm is not None:
            prompts = load_prompts(self.settings.prompts_dir)
            g = self.settings.grounding
            checker = GroundingChecker(lambda texts: self.embedder.embed_documents(texts), g.min_overlap,
                                       g.min_cosine, g.min_cosine_crosslingual)
            self.answerer = LLMAnswerer(self.llm, self.extractive, prompts, checker,
                                        max_sources=self.settings.llm_max_sources, timeout_s=self.settings.llm_timeout_s,
                                        relevance=relevance)
        self.cache = AnswerCache(self.settings.answer_cache) if self.settings.answer_cache else None
        self._ingest_lock = threading.Lock()

    def warm_up(self) -> None:
        """Load models and BM25 now rather than on the first question."""
        self.retriever.warm_up()
        self.extractive.warm_up()
        self.extractive.answer(self.retriever.retrieve("warm up"))

    def ingest(self, paths: Iterable[Path] | None = None, progress: bool = True,
               workers: int | None = None) -> IngestReport:
        """Bring the index up to date with article files (default: the data folder). `workers`: embedding
        processes (None: `settings.embed_workers`; 0: none, e.g. inside a multi-threaded server)."""
        paths = list(paths) if paths else [Path(self.settings.data_dir)]
        with self._ingest_lock:
            return Indexer(self.settings, self.store, self.embedder, workers=workers).ingest(paths, progress=progress)

    def remove(self, source: str) -> bool:
        with self._ingest_lock:
            return Indexer(self.settings, self.store, self.embedder).remove(source)

    def validate_question(self, question: str) -> str:
        q = (question or "").strip()
        if not q:
            raise QuestionError("The question is empty. Type a question about the articles.")
        limit = self.settings.answer.max_question_chars
        if len(q) > limit:
            raise QuestionError(
                f"The question is {len(q):,} characters long; the limit is {limit:,}. Ask a shorter question."
            )
        return q

    def _fill_article_meta(self, answer: Answer) -> None:
        """Citations carry their article's title, outlet and date (kept once per article in the store)."""
        cits = answer.citations + answer.closest
        sources = sorted({c.source for c in cits})
        if not sources:
            return
        arts = self.store.read_articles(sources, text=False)
        for c in cits:
            a = arts.get(c.source)
            if a is not None:
                c.title, c.outlet, c.date = c.title or a.title, c.outlet or a.outlet, c.date or a.date

    def ask(self, question: str, filters: ArticleFilter | None = None) -> Answer:
        return final_item(self.ask_stream(question, filters), Answer)

    def allowed_sources(self, filters: ArticleFilter | None) -> list[str] | None:
        """The articles a filter allows (None: no filter); FilterError if it allows none."""
        if filters is None or filters.is_empty():
            return None
        return filters.select(self.list_articles())

    def list_articles(self) -> dict[str, StoredArticle]:
        """Every indexed article (title, outlet, date, counts; no text), by file name."""
        return self.store.list_articles()

    def read_articles(self, sources: list[str], text: bool = True) -> dict[str, StoredArticle]:
        """Some indexed articles, with their cleaned text unless `text=False`; ones not indexed are left out."""
        return self.store.read_articles(sources, text)

    def ask_stream(self, question: str, filters: ArticleFilter | None = None) -> Iterator[str | Answer]:
        """Text deltas while an LLM writes (none for the extractive answerer), then the final `Answer`. `filters`:
        answer only from the articles it allows (FilterError if none)."""
        q = self.validate_question(question)
        sources = self.allowed_sources(filters)
        if self.cache is not None and self.answerer is self.extractive:
            yield self._kept_or_new(q, sources)
        else:
            yield from self._answer(q, sources)

    def _kept_or_new(self, q: str, sources: list[str] | None) -> Answer:
        """The kept answer for this index revision, or a new one (kept). One at a time per question, so many
        sessions asking it at once after an ingest cost one search, not one each."""
        assert self.cache is not None
        with self.cache.computing(q, sources):
            t0 = time.perf_counter()
            kept = self.cache.get(self.retriever.revision(), q, sources)
            if kept is None:
                return final_item(self._answer(q, sources, keep=True), Answer)
        kept.timings_ms = {"cache": (time.perf_counter() - t0) * 1000}
        kept.timings_ms["total"] = kept.timings_ms["cache"]
        self._log(q, kept, cached=True)
        return kept

    def _answer(self, q: str, sources: list[str] | None, keep: bool = False) -> Iterator[str | Answer]:
        t0 = time.perf_counter()
        retrieved = self.retriever.retrieve(analyse_question(q), sources)
        t1 = time.perf_counter()
        for item in self.answerer.stream(retrieved):
            if isinstance(item, Answer):
                self._fill_article_meta(item)
                t2 = time.perf_counter()
                item.timings_ms["answer"] = (t2 - t1) * 1000
                item.timings_ms["total"] = (t2 - t0) * 1000
                self._log(q, item, cached=False)
                if keep and self.cache is not None:
                    self.cache.put(retrieved.revision, q, sources, item)
            yield item

    @staticmethod
    def _log(question: str, answer: Answer, cached: bool) -> None:
        log.info("ask: mode=%s answerable=%s citations=%d total_ms=%.0f%s", answer.mode, answer.answerable,
                 len(answer.citations), answer.timings_ms["total"], " (kept answer)" if cached else "",
                 extra={"event": "ask", "mode": answer.mode, "answerable": answer.answerable, "cached": cached,
                        "citations": len(answer.citations), "question_chars": len(question),
                        "timings_ms": {k: round(v, 1) for k, v in answer.timings_ms.items()}})
