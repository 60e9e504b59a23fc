"""Ingest, before any question: article files become the sentences of the index.

- loading.py: read a .txt/.md/.html file and clean it into `Article.text`, the text every citation's offsets
  point into;
- metadata.py: title, publication date (header or body dateline), outlet, bylines;
- chunking.py: whole sentences with their offsets (`split_sentences`), small chunks, the llama-index node parser;
- indexing.py: the `Indexer`: incremental ingest by content hash into the `store/` package, crash-safe.

loading and metadata are plain Python; chunking and indexing load llama-index, so their names are imported when
first used (`from citechat.ingest import Indexer`), not when the package is: the command line stays quick to start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .loading import (
    SUPPORTED_SUFFIXES,
    Article,
    clean_text,
    content_hash,
    iter_article_files,
    load_article,
    load_articles,
)
from .metadata import display_date, find_date, find_outlet

if TYPE_CHECKING:
    from .chunking import SentenceChunkParser, group_chunks, split_sentences
    from .indexing import Indexer, IngestReport

_LAZY = {"SentenceChunkParser": "chunking", "group_chunks": "chunking", "split_sentences": "chunking",
         "Indexer": "indexing", "IngestReport": "indexing"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


__all__ = ["SUPPORTED_SUFFIXES", "Article", "IngestReport", "Indexer", "SentenceChunkParser", "clean_text",
           "content_hash", "display_date", "find_date", "find_outlet", "group_chunks", "iter_article_files",
           "load_article", "load_articles", "split_sentences"]
