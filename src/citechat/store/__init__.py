"""The persisted index, sealed: the only package in citechat that imports chromadb or llama-index's vector stores.

- index.py: `Store`, the three Chroma collections of one index (sentences, articles, revision), with
  `StoredArticle` and `StoredSentence`, the plain records it hands out;
- sentences.py: `SentenceVectorStore`, the lean sentence records as llama-index sees them (private to `Store`);
- client.py: opening a Chroma client (a local folder or a server) and checking a local folder first;
- guard.py: every collection call guarded against a server outage and a full disk.

Everything else reads and writes the index through `Store` (and the UI through the `Engine`).
"""

from __future__ import annotations

from .client import check_index_folder
from .guard import GuardedCollection, check_space, disk_full_reason, free_bytes, write_bytes
from .index import Store, StoredArticle, StoredSentence
from .sentences import pack_sentence_meta, unpack_sentence_meta

__all__ = ["GuardedCollection", "Store", "StoredArticle", "StoredSentence", "check_index_folder", "check_space",
           "disk_full_reason", "free_bytes", "pack_sentence_meta", "unpack_sentence_meta", "write_bytes"]
