"""Incremental ingest: articles whose content hash is unchanged cost nothing; changed ones are replaced.

Order of writes per article (crash safety): delete old sentences -> add new sentences -> write the article
record. The article record is the completion marker; sentences of an article without a matching record are
leftovers of an interrupted ingest and are removed at the start of the next one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core import Document
from llama_index.core.ingestion import IngestionPipeline
from tqdm.auto import tqdm

from ..config import SCHEMA_VERSION, Settings
from ..embedding import Embedder
from ..errors import IndexFull
from ..store import Store, check_space, write_bytes
from .chunking import SentenceChunkParser
from .loading import Article, LoadError, iter_article_files, load_article
from .report import IngestReport

log = logging.getLogger(__name__)

Pending = list[tuple[Article, bool]]  # loaded articles waiting for a batch, each with "was already stored"
Batches = list[tuple[Future, Pending]]  # queued batches (future of the sentences embedded), oldest first


class Indexer:
    """Brings the store up to date with article files."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder, workers: int | None = None) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.parser = SentenceChunkParser(
            max_sentences_per_chunk=settings.chunking.max_sentences_per_chunk,
            max_chunk_chars=settings.chunking.max_chunk_chars,
        )
        # A batch is flushed at whichever comes first. Small batches keep the stages below busy together.
        self.batch_articles = 32
        self.batch_chars = 80_000
        # Three stages overlap: this thread loads and splits files; an embed thread runs the embedding (in worker
        # processes for large batches); a writer thread stores each batch (`Store.add_sentences`).
        # Both steps are llama-index ingestion pipelines.
        n_workers = settings.ingest_workers if workers is None else workers
        self.split = IngestionPipeline(transformations=[self.parser], disable_cache=True)
        self.embed = IngestionPipeline(
            transformations=[embedder.as_llama_index(workers=n_workers)],
            disable_cache=True,  # an in-memory cache of this run's own nodes: pure overhead here
        )
        # With worker processes, two batches are in flight, so the workers start on the next batch while this
        # process unpacks the last one (one batch at a time left them idle ~20% of the time).
        self._embed_stage = ThreadPoolExecutor(max_workers=2 if n_workers > 1 else 1, thread_name_prefix="citechat-embed")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citechat-writer")
        self._pending: list[Future] = []  # write futures, oldest first
        self.max_in_flight = 3  # batches loaded but not yet stored (bounds memory)

    def remove_leftovers(self) -> list[str]:
        """Delete sentences whose article has no completion record (an interrupted ingest)."""
        complete = self.store.list_articles()
        ids, metas = self.store.sentence_metadatas()

        def stale(m: dict[str, Any] | None) -> bool:  # no complete article, or another version of it
            source = (m or {}).get("source")
            article = complete.get(source) if isinstance(source, str) else None
            return article is None or (m or {}).get("content_hash") != article.content_hash

        stale_ids = [i for i, m in zip(ids, metas, strict=False) if stale(m)]
        if stale_ids:
            log.info("removing %d leftover sentences from an interrupted ingest", len(stale_ids))
            self.store.delete_sentences(stale_ids)
            self.store.bump_revision()
        return stale_ids

    def add_articles(self, articles: list[Article], replace: set[str] | None = None) -> Future:
        """Queue a batch of articles: old versions out now; then, in the background, new sentences in
        (embedded in one large batch) and the article records that mark them complete. Returns a future of the
        number of sentences embedded; `wait_for_writes()` waits for all queued batches."""
        known = self.store.list_articles() if replace is None else None
        for a in articles:
            if (replace is not None and a.source in replace) or (known is not None and a.source in known):
                self.store.delete_article(a.source, announce=False)
        docs = [Document(id_=a.source, text=a.text, metadata=a.metadata,
                         excluded_embed_metadata_keys=list(a.metadata), excluded_llm_metadata_keys=list(a.metadata))
                for a in articles]
        while len(self._pending) >= self.max_in_flight:
            self._pending.pop(0).result()
        nodes = self.split.run(documents=docs, show_progress=False)
        embedded = self._embed_stage.submit(self.embed.run, nodes=nodes, show_progress=False)
        fut = self._writer.submit(self._write, embedded, articles)
        self._pending.append(fut)
        return fut

    def wait_for_writes(self) -> None:
        """Block until every queued batch is in the store (re-raises the first failure)."""
        pending, self._pending = self._pending, []
        errors = []
        for fut in pending:
            try:
                fut.result()
            except BaseException as e:  # noqa: BLE001 - wait for all, then re-raise the first
                errors.append(e)
        if errors:
            raise errors[0]

    def _write(self, nodes_future: Future, articles: list[Article]) -> int:
        """Sentences first, then the article records that mark them complete (crash-safe order). On a full disk
        the batch is refused before anything is written (IndexFull); if a write fails anyway, the batch's
        sentences are taken out again (otherwise the next ingest removes them as leftovers)."""
        nodes = nodes_future.result()
        if not self.store.remote:
            dim = len(nodes[0].embedding or []) if nodes else 1
            check_space(self.store.location, write_bytes(len(nodes) + len(articles), dim,
                                                         sum(len(a.text.encode()) for a in articles)))
        try:
            return self._write_batch(nodes, articles)
        except IndexFull:
            if nodes:
                try:
                    self.store.delete_sentences([n.node_id for n in nodes])
                except Exception:  # noqa: BLE001 - best effort; the full disk is the error to report
                    log.warning("could not take out the sentences of a batch that did not fit")
            raise

    def _write_batch(self, nodes: list, articles: list[Article]) -> int:
        self.store.add_sentences(nodes)
        by_source: dict[str, list] = {}
        for n in nodes:
            by_source.setdefault(n.metadata["source"], []).append(n)
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        embs: list[list[float]] = []
        for a in articles:
            mine = by_source.get(a.source, [])
            vecs = np.array([n.embedding for n in mine if n.embedding is not None], dtype=np.float32)
            centroid = vecs.mean(axis=0) if len(vecs) else np.zeros(1, dtype=np.float32)
            centroid = centroid / max(float(np.linalg.norm(centroid)), 1e-12)
            ids.append(a.source)
            texts.append(a.text)
            metas.append({**a.metadata, "path": a.path or "", "sentences": len(mine),
                          "chunks": len({n.metadata["chunk"] for n in mine}), "schema": SCHEMA_VERSION})
            embs.append(centroid.tolist() if len(vecs) else [0.0] * self._dim(embs))
        self.store.put_articles(ids, texts, metas, embs)
        return len(nodes)

    @staticmethod
    def _dim(embs: list[list[float]]) -> int:
        return len(embs[0]) if embs else 1

    def remove(self, source: str) -> bool:
        if source not in self.store.list_articles() and source not in self.store.sentence_sources():
            return False
        self.store.delete_article(source)
        return True

    def ingest(
        self,
        paths: Iterable[Path],
        sync_folders: bool = True,
        progress: bool = True,
        on_article: Callable[[str, str], None] | None = None,
    ) -> IngestReport:
        """Add/update articles from files and folders. With `sync_folders`, articles that were ingested from
        one of the given folders and whose file is gone are removed."""
        t0 = time.perf_counter()
        report = IngestReport()
        self.remove_leftovers()
        paths = [Path(p) for p in paths]
        stored = self.store.list_articles()
        seen: set[str] = set()
        calls_before = self.embedder.calls
        self._ingest_files(list(iter_article_files(paths)), report, stored, seen, progress, on_article)
        self._refresh_metadata(report, stored)
        if sync_folders:
            self._remove_missing(paths, stored, seen, report)
        report.seconds = time.perf_counter() - t0
        log.info("ingest: %s (embed calls: %d)", report.summary(), self.embedder.calls - calls_before,
                 extra={"event": "ingest", "added": len(report.added), "updated": len(report.updated),
                        "removed": len(report.removed), "unchanged": len(report.unchanged),
                        "skipped": len(report.skipped), "sentences_embedded": report.sentences_embedded,
                        "seconds": round(report.seconds, 2)})
        return report

    def _ingest_files(self, files: list[Path], report: IngestReport, stored: dict, seen: set[str], progress: bool,
                      on_article: Callable[[str, str], None] | None) -> None:
        """Load, split, embed and store `files` in batches; report each batch once it is in the store."""
        bar = tqdm(files, desc="Ingesting", unit="file", delay=1.0, disable=not progress or len(files) == 0)
        pending: Pending = []
        batches: Batches = []
        try:
            for f in bar:
                self._take(f, report, stored, seen, pending)
                if len(pending) >= self.batch_articles or sum(len(a.text) for a, _ in pending) >= self.batch_chars:
                    self._flush(pending, batches)
                self._settle(batches, report, on_article)
            self._flush(pending, batches)
            self.wait_for_writes()
            self._settle(batches, report, on_article)
        except BaseException:
            # Let queued batches finish or fail (each is complete or invisible), then report the first problem.
            try:
                self.wait_for_writes()
            except BaseException:  # noqa: BLE001 - the exception being raised is the one to report
                pass
            raise
        finally:
            self.embedder.close_workers()

    def _flush(self, pending: Pending, batches: Batches) -> None:
        """Queue the pending (article, was stored) pairs as one batch and empty `pending`."""
        if not pending:
            return
        # Sentences of new articles can only be leftovers, removed by `ingest`: no per-article delete needed.
        batch = list(pending)
        batches.append((self.add_articles([a for a, _ in batch], replace={a.source for a, was in batch if was}),
                        batch))
        pending.clear()

    @staticmethod
    def _settle(batches: Batches, report: IngestReport, on_article: Callable[[str, str], None] | None) -> None:
        """Report the batches that are in the store, in order (the oldest first; stops at one still running)."""
        while batches and batches[0][0].done():
            fut, batch = batches.pop(0)
            report.sentences_embedded += fut.result()
            for a, was_stored in batch:
                (report.updated if was_stored else report.added).append(a.source)
                if on_article:
                    on_article(a.source, "updated" if was_stored else "added")

    def _refresh_metadata(self, report: IngestReport, stored: dict) -> None:
        """Unchanged articles whose extracted metadata differs from the stored record (the extraction rules
        changed, see metadata.py): rewrite just the record's metadata, in one write. No re-embedding."""
        fresh = {s: stored[s].meta for s in report.refreshed}
        self.store.update_article_metadata(fresh)
        if fresh:
            log.info("metadata refreshed for %d unchanged articles", len(fresh))

    def _remove_missing(self, paths: list[Path], stored: dict, seen: set[str], report: IngestReport) -> None:
        """Remove articles ingested from one of the given folders whose file is gone."""
        folders = [p.resolve() for p in paths if p.is_dir()]
        for source, art in stored.items():
            if source in seen or not art.path:
                continue
            p = Path(art.path)
            in_folder = any(p.resolve().is_relative_to(d) for d in folders)
            if in_folder and not p.exists():
                self.store.delete_article(source)
                report.removed.append(source)

    def _take(self, f: Path, report: IngestReport, stored: dict, seen: set[str],
              pending: Pending) -> None:
        """Load one file and queue it if it is new or changed."""
        if not f.exists():
            report.skipped.append(f"{f}: no such file or folder")
            return
        try:
            article = load_article(f)
        except LoadError as e:
            report.skipped.append(str(e))
            log.warning("skipped %s", e)
            return
        if article.source in seen:
            report.skipped.append(f"{f}: another file named {article.source} was already ingested; skipped")
            return
        seen.add(article.source)
        old = stored.get(article.source)
        if old is not None and old.content_hash == article.content_hash:
            report.unchanged.append(article.source)
            if any(old.meta.get(k) != v for k, v in article.metadata.items()):
                report.refreshed.append(article.source)
                old.meta = article.metadata  # written by `_refresh_metadata` once all files are read
            return
        pending.append((article, old is not None))
