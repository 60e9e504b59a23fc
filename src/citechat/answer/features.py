"""The answer decision's features: one row of `FEATURES` per (question, candidate sentence).

They come from what retrieval already computed (dense cosine, BM25, fused rank, the English cross-encoder) plus
cheap text checks: word, character and dictionary overlap, over the sentence and over it with its neighbours;
numbers, dates, names, question type, language pair; and gaps to the question's best candidate.
Training (training/train_decision.py) and answering both call `candidate_features`, so they can't drift apart.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import pairwise
from typing import Protocol

import numpy as np

from .. import dictionary
from ..language import CJK_RE, is_cjk, proper_terms, to_simplified, tokenize
from ..retrieval.candidates import Candidate
from .question import QUESTION_TYPES, QuestionInfo, counts_asked, has_date, has_number, question_type

FEATURES: tuple[str, ...] = (
    "q_cjk", "s_cjk",
    "dense", "dense_gap", "dense_rank", "dense_margin",
    "bm25", "bm25_rel", "bm25_rank", "bm25_translated", "bm25_translated_rel",
    "rrf_rank",
    "ce", "ce_gap", "ce_best",
    # the multilingual cross-encoder (every language pair; NaN where it did not score the sentence)
    "xr", "xr_gap", "xr_best", "xr_rank",
    "cover", "cover_article", "idf_cover", "missing_idf_max", "unknown_terms",
    "dict_cover", "dict_idf_cover", "dict_cover_article", "bigram_cover", "longest_common",
    # the same over the sentence with its neighbours (the question may name what the sentence before says)
    "ctx_idf_cover", "ctx_dict_idf_cover", "ctx_bigram_cover",
    # the rarest question word the sentence and its neighbours lack, and how many such words with some weight
    "ctx_missing_idf_max", "ctx_missing_rare",
    # the same, minus the best value among this question's candidates (a tree sees one row at a time)
    "idf_cover_gap", "dict_idf_cover_gap", "bigram_cover_gap", "longest_common_gap", "bm25_gap",
    "ctx_idf_cover_gap", "ctx_dict_idf_cover_gap", "ctx_bigram_cover_gap",
    "numbers_shared", "s_number", "s_date", "type_match", "counts_asked",
    "names_shared", "new_names",
    "log_chars",
    "article_candidates", "article_best_dense",
    *(f"q_{t}" for t in QUESTION_TYPES),
)

_Q_NUM = re.compile(r"\d+(?:[.,]\d+)?")
_ZH_Q_WORDS = re.compile(r"什么|什麼|多少|哪里|哪裡|哪个|哪個|哪些|哪一|哪|谁|誰|为什么|為什麼|如何|怎么|怎麼|几|幾|吗|嗎|呢|是")
_RANK_NONE = 99.0


def _bigrams(text: str) -> set[str]:
    chars = [c for c in text if CJK_RE.match(c)]
    return {a + b for a, b in pairwise(chars)}


@dataclass
class QuestionFeatures:
    """What the features need of a question, computed once."""

    info: QuestionInfo
    qtype: str
    tokens: set[str]
    simplified: str  # the question in simplified Chinese, question words removed (for character overlap)
    bigrams: set[str]
    numbers: set[str]
    english_words: list[str]  # content words of an English question, for the dictionary
    chinese_words: list[str]  # content words of a Chinese question, for the dictionary
    names: list[set[str]]
    lower: str  # the question in lower case


def question_features(info: QuestionInfo) -> QuestionFeatures:
    simplified = _ZH_Q_WORDS.sub("", to_simplified(info.text))
    english = [w.lower() for w in re.findall(r"[A-Za-z]{3,}", info.text)]
    english = [w for w in dict.fromkeys(english) if w not in _EN_SKIP]
    chinese = [t for t in info.content_tokens if CJK_RE.search(t) and len(t) >= 2]
    return QuestionFeatures(
        info=info, qtype=question_type(info), tokens=set(info.content_tokens), simplified=simplified,
        bigrams=_bigrams(simplified), numbers={n.replace(",", "") for n in _Q_NUM.findall(info.text)},
        english_words=english, chinese_words=chinese, names=info.name_tokens, lower=info.text.lower(),
    )


_EN_SKIP = frozenset(
    """the and for was were are did does what which who whom whose when where why how many much that this with
    from into have has had been being than then there their they them its his her not but also any some each
    other such only same about after before during over under most more""".split()
)


class CorpusView(Protocol):
    """What the features need of the whole collection (the BM25 index has it)."""

    def article_tokens(self, source: str) -> set[str]: ...

    def idf(self, token: str) -> float: ...


def _dict_cover_article(qf: QuestionFeatures, article: set[str]) -> float:
    """Share of an English question's content words with a dictionary translation among the article's words."""
    if qf.info.cjk or not qf.english_words:
        return -1.0
    return sum(1 for w in qf.english_words if dictionary.chinese_for(w) & article) / len(qf.english_words)


def _dict_idf_cover(qf: QuestionFeatures, simplified: str, translations: list[dict[str, float]]) -> float:
    """IDF-weighted dictionary cover of an English question in a Chinese sentence: per question word, the rarest
    of its translations found in the sentence, over the rarest of its translations found in the collection."""
    got = total = 0.0
    for options in translations:
        if not options:
            continue
        total += max(options.values())
        got += max((v for z, v in options.items() if z in simplified), default=0.0)
    return got / total if total else -1.0


def _dict_cover(qf: QuestionFeatures, sentence: str, simplified: str, s_tokens: set[str]) -> float:
    """Share of the question's content words whose dictionary translations occur in the other-language sentence."""
    if not qf.info.cjk and is_cjk(sentence):
        words = qf.english_words
        if not words:
            return 0.0
        hit = sum(1 for w in words if any(len(z) >= 2 and z in simplified for z in dictionary.chinese_for(w)))
        return hit / len(words)
    if qf.info.cjk and not is_cjk(sentence):
        words = qf.chinese_words
        if not words:
            return 0.0
        return sum(1 for w in words if dictionary.english_for(w) & s_tokens) / len(words)
    return 0.0


def candidate_features(qf: QuestionFeatures, cands: Sequence[Candidate], corpus: CorpusView,
                       unknown_terms: int = 0) -> np.ndarray:
    """One row of FEATURES per candidate, in the order given. Rank ties break by the candidates' fused `order`,
    so the rows don't depend on the order of `cands`. `unknown_terms`: names of the question no sentence has."""
    n = len(cands)
    X = np.full((n, len(FEATURES)), np.nan, dtype=np.float32)
    if n == 0:
        return X
    perm = sorted(range(n), key=lambda i: cands[i].order)
    ordered = [cands[i] for i in perm]
    Y = X.copy()
    dense_f = _retrieval_columns(Y, ordered)
    weights = _QuestionWeights(qf, corpus)
    article_cache = {c.source: weights.article(c.source) for c in ordered}
    per_article: dict[str, list[int]] = {}
    for i, c in enumerate(ordered):
        per_article.setdefault(c.source, []).append(i)
    for i, c in enumerate(ordered):
        row = Y[i]
        _text_columns(row, qf, c, weights, article_cache[c.source])
        row[COL["unknown_terms"]] = unknown_terms
        same = per_article[c.source]
        row[COL["article_candidates"]] = len(same)
        row[COL["article_best_dense"]] = max(dense_f[j] for j in same)
    for name in _GAP_COLUMNS:
        values = Y[:, COL[name]]
        Y[:, COL[f"{name}_gap"]] = np.nanmax(values) - values if np.isfinite(values).any() else np.nan
    X[perm] = Y
    return X


COL = {f: i for i, f in enumerate(FEATURES)}
_GAP_COLUMNS = ("idf_cover", "dict_idf_cover", "bigram_cover", "longest_common", "bm25", "ctx_idf_cover",
                "ctx_dict_idf_cover", "ctx_bigram_cover")


def _retrieval_columns(X: np.ndarray, cands: Sequence[Candidate]) -> np.ndarray:
    """Dense, BM25, fused and cross-encoder scores, their ranks and gaps. Returns the dense scores (-1: none)."""
    n = len(cands)
    dense = np.array([c.scores.dense if c.scores.dense is not None else np.nan for c in cands], dtype=np.float32)
    bm25 = np.array([c.scores.bm25 if c.scores.bm25 is not None else 0.0 for c in cands], dtype=np.float32)
    bm25_tr = np.array([c.scores.bm25_translated or 0.0 for c in cands], dtype=np.float32)
    rrf = np.array([c.scores.fused for c in cands], dtype=np.float32)
    ce = np.array([c.scores.rerank if c.scores.rerank is not None else np.nan for c in cands], dtype=np.float32)
    dense_f = np.nan_to_num(dense, nan=-1.0)
    dense_rank = np.empty(n, dtype=np.float32)
    dense_rank[np.argsort(-dense_f, kind="stable")] = np.arange(n)
    top2 = np.sort(dense_f)[::-1][:2]
    bm25_rank = np.full(n, _RANK_NONE, dtype=np.float32)
    has_bm = np.where(bm25 > 0)[0]
    bm25_rank[has_bm[np.argsort(-bm25[has_bm], kind="stable")]] = np.arange(len(has_bm))
    rrf_rank = np.empty(n, dtype=np.float32)
    rrf_rank[np.argsort(-rrf, kind="stable")] = np.arange(n)
    ce_best = float(np.nanmax(ce)) if np.isfinite(ce).any() else np.nan
    X[:, COL["dense"]] = dense
    X[:, COL["dense_gap"]] = top2[0] - dense_f
    X[:, COL["dense_rank"]] = dense_rank
    X[:, COL["dense_margin"]] = float(top2[0] - top2[1]) if n > 1 else 1.0
    X[:, COL["bm25"]] = bm25
    X[:, COL["bm25_rel"]] = bm25 / bm25.max() if bm25.max() > 0 else 0.0
    X[:, COL["bm25_rank"]] = bm25_rank
    X[:, COL["bm25_translated"]] = bm25_tr
    X[:, COL["bm25_translated_rel"]] = bm25_tr / bm25_tr.max() if bm25_tr.max() > 0 else 0.0
    X[:, COL["rrf_rank"]] = rrf_rank
    X[:, COL["ce"]] = ce
    X[:, COL["ce_gap"]] = np.where(np.isfinite(ce), ce_best - ce.astype(np.float64), np.nan)  # as float64, then stored
    X[:, COL["ce_best"]] = ce_best
    xr = np.array([c.scores.xrerank if c.scores.xrerank is not None else np.nan for c in cands], dtype=np.float32)
    scored = np.isfinite(xr)
    xr_best = float(np.nanmax(xr)) if scored.any() else np.nan
    xr_rank = np.full(n, _RANK_NONE, dtype=np.float32)
    idx = np.where(scored)[0]
    xr_rank[idx[np.argsort(-xr[idx], kind="stable")]] = np.arange(len(idx))
    X[:, COL["xr"]] = xr
    X[:, COL["xr_gap"]] = np.where(scored, xr_best - xr.astype(np.float64), np.nan)
    X[:, COL["xr_best"]] = xr_best
    X[:, COL["xr_rank"]] = xr_rank
    return dense_f


class _QuestionWeights:
    """The question's word weights in this collection, shared by every candidate's cover features."""

    def __init__(self, qf: QuestionFeatures, corpus: CorpusView) -> None:
        self.qf, self.corpus = qf, corpus
        self.q_idf = {t: corpus.idf(t) for t in qf.tokens}
        unseen = corpus.idf("") - 1e-6  # the IDF of a word no article has
        # per English question word: its 2+ character translations that the collection uses, with their IDF
        self.translations = [] if qf.info.cjk else [
            {z: v for z in dictionary.chinese_for(w) if len(z) >= 2 and (v := corpus.idf(z)) < unseen}
            for w in qf.english_words]
        self.idf_total = sum(self.q_idf.values()) or 1.0
        self.rare = 0.5 * corpus.idf("")  # half the IDF of a word no article has

    def covers(self, tokens: set[str], simp: str, cjk: bool) -> tuple[float, float, float]:
        """IDF-weighted word cover, IDF-weighted dictionary cover and Chinese bigram cover of the question in a
        text (its tokens; its simplified form)."""
        qf = self.qf
        return (sum(v for t, v in self.q_idf.items() if t in tokens) / self.idf_total,
                _dict_idf_cover(qf, simp, self.translations) if cjk else -1.0,
                len(qf.bigrams & _bigrams(simp)) / len(qf.bigrams) if qf.bigrams and cjk else 0.0)

    def article(self, source: str) -> tuple[float, float, float]:
        """Word cover of the question in the whole article, the rarest question word it lacks, dictionary cover."""
        art, toks = self.corpus.article_tokens(source), self.qf.tokens
        return (len(toks & art) / len(toks) if toks else 0.0,
                max((v for t, v in self.q_idf.items() if t not in art), default=0.0),
                _dict_cover_article(self.qf, art))


def _text_columns(row: np.ndarray, qf: QuestionFeatures, c: Candidate, w: _QuestionWeights,
                  article: tuple[float, float, float]) -> None:
    """The features of one sentence's text (and its neighbours') against the question."""
    text = c.text
    s_cjk = is_cjk(text)
    simplified = to_simplified(text) if s_cjk else text
    s_tokens = set(tokenize(text))
    toks = qf.tokens
    row[COL["q_cjk"]] = float(qf.info.cjk)
    row[COL["s_cjk"]] = float(s_cjk)
    row[COL["cover"]] = len(toks & s_tokens) / len(toks) if toks else 0.0
    row[COL["cover_article"]], row[COL["missing_idf_max"]], row[COL["dict_cover_article"]] = article
    s_cover = w.covers(s_tokens, simplified, s_cjk)
    if c.neighbours:  # the sentence with its neighbours
        w_tokens = s_tokens | set(tokenize(c.neighbours))
        window = f"{c.neighbours} {text}"
        w_cover = w.covers(w_tokens, to_simplified(window) if s_cjk else window, s_cjk)
    else:
        w_tokens, w_cover = s_tokens, s_cover
    row[COL["idf_cover"]], row[COL["dict_idf_cover"]], row[COL["bigram_cover"]] = s_cover
    row[COL["ctx_idf_cover"]], row[COL["ctx_dict_idf_cover"]], row[COL["ctx_bigram_cover"]] = w_cover
    row[COL["dict_cover"]] = _dict_cover(qf, text, simplified, s_tokens)
    missing = [v for t, v in w.q_idf.items() if t not in w_tokens]
    row[COL["ctx_missing_idf_max"]] = max(missing, default=0.0)
    row[COL["ctx_missing_rare"]] = sum(1 for v in missing if v >= w.rare)
    row[COL["longest_common"]] = (
        SequenceMatcher(None, qf.simplified, simplified, autojunk=False).find_longest_match().size
        if qf.bigrams and s_cjk else 0.0)
    _fact_columns(row, qf, text, s_tokens)
    for t in QUESTION_TYPES:
        row[COL[f"q_{t}"]] = float(qf.qtype == t)


def _fact_columns(row: np.ndarray, qf: QuestionFeatures, text: str, s_tokens: set[str]) -> None:
    """Numbers, dates, names and length: does the sentence have what the question asks for."""
    row[COL["numbers_shared"]] = (sum(1 for x in qf.numbers if x in text.replace(",", "")) / len(qf.numbers)
                                  if qf.numbers else -1.0)
    s_num, s_date = has_number(text), has_date(text)
    row[COL["s_number"]] = float(s_num)
    row[COL["s_date"]] = float(s_date)
    row[COL["type_match"]] = float(s_date if qf.qtype == "when" else s_num if qf.qtype == "count" else True)
    row[COL["counts_asked"]] = counts_asked(qf.info, text)
    row[COL["names_shared"]] = (sum(1 for g in qf.names if g & s_tokens) / len(qf.names) if qf.names else -1.0)
    # names the question does not contain: a who-question's answer is one
    row[COL["new_names"]] = min(5, sum(1 for t in proper_terms(text) if t.lower() not in qf.lower))
    row[COL["log_chars"]] = math.log1p(len(text))
