"""Ingest, before any question: article files become the sentences of the index.

- loading.py: read a .txt/.md/.html file and clean it into `Article.text`, the text every citation's offsets
  point into;
- metadata.py: title, publication date (header or body dateline), outlet, bylines;
- glosses.py: pinyin glosses (區(qū)域 -> 區域) that cleaning removes;
- chunking.py: whole sentences with their offsets (`split_sentences`), small chunks, the llama-index node parser;
- indexing.py: the `Indexer`: incremental ingest by content hash into the `store/` package, crash-safe;
- report.py: `IngestReport`, what one ingest did.

The package exports only loading and metadata, which are plain Python; chunking and indexing load llama-index, so
import them from their modules (`from citechat.ingest.indexing import Indexer`): the command line stays quick.
"""

from __future__ import annotations

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

__all__ = ["SUPPORTED_SUFFIXES", "Article", "clean_text", "content_hash", "display_date", "find_date", "find_outlet",
           "iter_article_files", "load_article", "load_articles"]
