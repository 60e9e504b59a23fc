"""Retrieval, one role per module: `dense`, `keyword` (BM25), `fusion` (RRF), `rerank` (cross-encoder), and the
`Retriever` that runs them for one question. It hands answering typed `Candidate`s in a `RetrievalResult`."""

from .candidates import Candidate, CorpusStats, RetrievalResult, Scores, idf
from .dense import DenseRetriever, Query
from .fusion import reciprocal_rank_fusion
from .keyword import BM25Retriever
from .rerank import CrossEncoderRanker, OnnxCrossEncoder
from .retriever import Retriever

__all__ = ["BM25Retriever", "Candidate", "CorpusStats", "CrossEncoderRanker", "DenseRetriever", "OnnxCrossEncoder",
           "Query", "RetrievalResult", "Retriever", "Scores", "idf", "reciprocal_rank_fusion"]
