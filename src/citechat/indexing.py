"""Incremental ingest: articles whose content hash is unchanged cost nothing; changed ones are replaced.

Order of writes per article (crash safety): delete old sentences -> add new sentences -> write the article
record. The article record is the completion marker; sentences of an article without a matching record are
leftovers of an interrupted ingest and are removed at the start of the next one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from llama_index.core import Document
from llama_index.core.ingestion import IngestionPipeline
from tqdm.auto import tqdm

from .chunking import SentenceChunkParser
from .config import SCHEMA_VERSION, Settings
from .embedding import Embedder
from .loading import Article, iter_article_files, load_article, LoadError
from .store import Store

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # warnings, one per unreadable file
    sentences_embedded: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped "
            f"({self.sentences_embedded} sentences embedded in {self.seconds:.1f} s)"
        )


class Indexer:
    """Brings the store up to date with article files."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.parser = SentenceChunkParser(
            max_sentences_per_chunk=settings.chunking.max_sentences_per_chunk,
            max_chunk_chars=settings.chunking.max_chunk_chars,
        )
        self.pipeline = IngestionPipeline(
            transformations=[self.parser, embedder.as_llama_index()], vector_store=store.vector_store
        )

    def remove_leftovers(self) -> list[str]:
        """Delete sentences whose article has no completion record (an interrupted ingest)."""
        complete = self.store.list_articles()
        got = self.store.sentences.get(include=["metadatas"])
        stale_ids = [
            i for i, m in zip(got["ids"], got["metadatas"])
            if (m or {}).get("source") not in complete
            or (m or {}).get("content_hash") != complete[(m or {}).get("source")].content_hash
        ]
        if stale_ids:
            log.info("removing %d leftover sentences from an interrupted ingest", len(stale_ids))
            for k in range(0, len(stale_ids), 5000):
                self.store.sentences.delete(ids=stale_ids[k: k + 5000])
            self.store.bump_revision()
        return stale_ids

    def add_article(self, article: Article) -> int:
        """Index one article (replacing any older version). Returns the number of sentences embedded."""
        existing = self.store.list_articles().get(article.source)
        if existing is not None:
            self.store.articles.delete(ids=[article.source])
        self.store.sentences.delete(where={"source": article.source})
        doc = Document(id_=article.source, text=article.text, metadata=article.metadata,
                       excluded_embed_metadata_keys=list(article.metadata),
                       excluded_llm_metadata_keys=list(article.metadata))
        nodes = self.pipeline.run(documents=[doc], show_progress=False)
        vecs = np.array([n.embedding for n in nodes if n.embedding is not None], dtype=np.float32)
        centroid = vecs.mean(axis=0) if len(vecs) else np.zeros(1, dtype=np.float32)
        centroid = centroid / max(float(np.linalg.norm(centroid)), 1e-12)
        meta = {
            **article.metadata,
            "path": article.path or "",
            "sentences": len(nodes),
            "chunks": len({n.metadata["chunk"] for n in nodes}),
            "schema": SCHEMA_VERSION,
        }
        self.store.put_article(article.source, article.text, meta, centroid.tolist())
        return len(nodes)

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
        files = list(iter_article_files(paths))
        seen: set[str] = set()
        calls_before = self.embedder.calls
        bar = tqdm(files, desc="Ingesting", unit="file", delay=1.0, disable=not progress or len(files) == 0)
        for f in bar:
            if not f.exists():
                report.skipped.append(f"{f}: no such file or folder")
                continue
            try:
                article = load_article(f)
            except LoadError as e:
                report.skipped.append(str(e))
                log.warning("skipped %s", e)
                continue
            if article.source in seen:
                report.skipped.append(f"{f}: another file named {article.source} was already ingested; skipped")
                continue
            seen.add(article.source)
            old = stored.get(article.source)
            if old is not None and old.content_hash == article.content_hash:
                report.unchanged.append(article.source)
                continue
            bar.set_postfix_str(article.source[:30])
            report.sentences_embedded += self.add_article(article)
            (report.updated if old is not None else report.added).append(article.source)
            if on_article:
                on_article(article.source, "updated" if old is not None else "added")
        if sync_folders:
            folders = [p.resolve() for p in paths if p.is_dir()]
            for source, art in stored.items():
                if source in seen or not art.path:
                    continue
                p = Path(art.path)
                in_folder = any(_is_within(p.resolve(), d) for d in folders)
                if in_folder and not p.exists():
                    self.store.delete_article(source)
                    report.removed.append(source)
        report.seconds = time.perf_counter() - t0
        log.info("ingest: %s (embed calls: %d)", report.summary(), self.embedder.calls - calls_before)
        return report


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False
