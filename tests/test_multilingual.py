"""The multilingual cross-encoder (retrieval/multilingual.py): the shipped e5 model, and any sentence-transformers
CrossEncoder named in settings through the same code path."""

from __future__ import annotations

import numpy as np
import pytest

from citechat.config import RetrievalSettings, Settings
from citechat.errors import ModelLoadError
from citechat.retrieval.multilingual import (E5CrossEncoder, PairScorer, SentenceTransformersCrossEncoder,
                                             make_pair_scorer, sha256)
from citechat.retrieval.rerank import MultilingualScorer

LUOHU_SENTENCE = "Liu Sheng and Vanderfan presented flags to the 11 leading units on the spot."


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory):
    """A small BERT cross-encoder saved to a folder, as a user's own model would be (random weights: no hub)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("my-cross-encoder")
    words = "who presented flags in luohu liu sheng and vanderfan to the 11 leading units on spot rain fell".split()
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", do_lower_case=True)
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=64, num_labels=1))
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder, model, fast


def test_sentence_transformers_cross_encoder_from_a_local_folder(tiny_cross_encoder):
    import torch

    folder, model, tok = tiny_cross_encoder
    scorer = make_pair_scorer(str(folder))
    assert isinstance(scorer, SentenceTransformersCrossEncoder)
    passages = [LUOHU_SENTENCE, "Rain fell."]
    got = scorer.score("Who presented flags in Luohu?", passages)
    # the raw logits the model itself gives (no activation on top)
    enc = tok(["Who presented flags in Luohu?"] * 2, passages, padding=True, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        want = model(**enc).logits[:, 0].numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert got[0] != got[1]


def test_a_named_model_is_what_the_retriever_scores_with(tiny_cross_encoder, corpus_engine, tmp_path):
    folder, _model, _tok = tiny_cross_encoder
    engine = corpus_engine
    settings = Settings(index_dir=tmp_path / "idx", retrieval=RetrievalSettings(multilingual_reranker=str(folder),
                                                                                multilingual_top_n=3))
    from citechat.retrieval.retriever import Retriever

    retriever = Retriever(settings, engine.store, engine.embedder, engine.retriever.encoder)
    assert isinstance(retriever.multilingual.encoder, SentenceTransformersCrossEncoder)
    res = retriever.retrieve("罗湖区向11个牵头单位授旗的是谁?")
    scored = [c for c in res.candidates if c.scores.xrerank is not None]
    assert 1 <= len(scored) <= 3
    assert scored == [c for c in res.candidates if c.scores.xrerank is not None][:3]


def test_a_missing_model_says_what_to_do(tmp_path):
    with pytest.raises(ModelLoadError, match="local folder"):
        make_pair_scorer(str(tmp_path / "no-such-model")).warm_up()
    with pytest.raises(ModelLoadError, match="make train-reranker"):
        E5CrossEncoder(model_dir=tmp_path).warm_up()
    assert make_pair_scorer("none") is None


def test_scorer_covers_only_the_first_citable_candidates():
    class Length(PairScorer):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[list[str]] = []

        def score(self, query, passages):
            self.calls.append(passages)
            return np.array([float(len(p)) for p in passages], dtype=np.float32)

    from citechat.retrieval.candidates import Candidate

    cands = [Candidate(id=str(i), text=t, source="a.txt", start=0, end=len(t)) for i, t in
             enumerate(["First sentence here.", "By Reporter Wang", "Second one.", "Third one here.", "Fourth."])]
    scorer = Length()
    MultilingualScorer(scorer, top_n=3, skip_english=False).run("q", cands)
    assert len(scorer.calls) == 1 and len(scorer.calls[0]) == 3
    assert [c.scores.xrerank for c in cands] == [20.0, None, 11.0, 15.0, None]


def test_english_pairs_are_left_to_the_english_cross_encoder():
    from citechat.retrieval.candidates import Candidate

    class Ones(PairScorer):
        def score(self, query, passages):
            return np.ones(len(passages), dtype=np.float32)

    def scored(question: str, skip_english: bool = True) -> list[bool]:
        cands = [Candidate(id=str(i), text=t, source="a.txt", start=0, end=len(t))
                 for i, t in enumerate(["Flags were presented.", "罗湖区召开会议。", "The units report monthly."])]
        MultilingualScorer(Ones(), top_n=3, skip_english=skip_english).run(question, cands)
        return [c.scores.xrerank is not None for c in cands]

    assert scored("Who presented flags?") == [False, True, False]
    assert scored("谁授旗?") == [True, True, True]
    assert scored("Who presented flags?", skip_english=False) == [True, True, True]


def test_shipped_model_reads_both_languages():
    enc = E5CrossEncoder()
    enc.warm_up()
    assert enc.card["sha256"] == sha256(enc.path)
    assert enc.path.stat().st_size <= 50e6
    others = ["The Luohu District held a meeting on the economy.", "罗湖区召开经济工作会议。",
              "The 11 leading units will report every month."]
    for question in ("Who presented flags in Luohu?", "罗湖区向11个牵头单位授旗的是谁?"):
        s = enc.score(question, [LUOHU_SENTENCE, *others])
        assert int(np.argmax(s)) == 0, (question, s)


def test_warm_up_loads_once_however_many_threads_ask():
    import threading
    import time

    from citechat.lazy import WarmUp

    class Slow(WarmUp):
        loads = 0

        def _load(self) -> None:
            time.sleep(0.05)  # long enough for every thread to arrive while the first one loads
            Slow.loads += 1

    model = Slow()
    threads = [threading.Thread(target=model.warm_up) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Slow.loads == 1 and model.ready
    model.warm_up()
    assert Slow.loads == 1
