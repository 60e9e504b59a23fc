"""The learned answer-or-abstain decision.

A gradient-boosted model (LightGBM) scores every retrieved (question, sentence) pair: the probability that the
sentence holds the answer. The answer quotes the best sentence when its probability clears the threshold chosen
for the question's language pair (en-en, en-zh, zh-zh, zh-en) from that pair's precision/recall curve; otherwise
citechat abstains. The model and its thresholds are files in `citechat/models/`, made by `make train`
(training/train_decision.py) on public QA data only; docs/decision.md has the curves and figures.

Features come from what retrieval already computed (dense cosine, BM25, fused rank, the English cross-encoder)
plus cheap text checks: word, character and dictionary overlap, numbers, dates, names, question type, language
pair, and margins to the best candidate.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from . import dictionary
from .language import is_cjk, proper_terms, to_simplified, tokenize
from .loading import is_byline
from .question import QUESTION_TYPES, QuestionInfo, counts_asked, has_date, has_number, question_type

MODEL_DIR = Path(__file__).resolve().parent / "models"
MODEL_NAME = "decision"

FEATURES: tuple[str, ...] = (
    "q_cjk", "s_cjk",
    "dense", "dense_gap", "dense_rank", "dense_margin",
    "bm25", "bm25_rel", "bm25_rank", "bm25_translated", "bm25_translated_rel",
    "rrf_rank",
    "ce", "ce_gap", "ce_best",
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

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_Q_NUM = re.compile(r"\d+(?:[.,]\d+)?")
_ZH_Q_WORDS = re.compile(r"什么|什麼|多少|哪里|哪裡|哪个|哪個|哪些|哪一|哪|谁|誰|为什么|為什麼|如何|怎么|怎麼|几|幾|吗|嗎|呢|是")
_RANK_NONE = 99.0


def pair_of(question_cjk: bool, sentence_cjk: bool) -> str:
    return f"{'zh' if question_cjk else 'en'}-{'zh' if sentence_cjk else 'en'}"


def _bigrams(text: str) -> set[str]:
    chars = [c for c in text if _CJK.match(c)]
    return {a + b for a, b in zip(chars, chars[1:])}


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
    chinese = [t for t in info.content_tokens if _CJK.search(t) and len(t) >= 2]
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


@dataclass
class CandidateView:
    """One retrieved sentence as the decision sees it."""

    text: str
    source: str
    dense: float | None
    bm25: float | None
    rrf: float | None
    rerank: float | None
    bm25_translated: float | None = None  # BM25 of the question's dictionary translation (English -> Chinese)
    context: str = ""  # the sentences before and after it in its article


class CorpusView(Protocol):
    """What the features need of the whole collection (the BM25 index has it)."""

    def article_tokens(self, source: str) -> set[str]: ...

    def idf(self, token: str) -> float: ...


@dataclass
class CorpusStats:
    """A `CorpusView` from plain data: article tokens and article frequencies (training uses a saved copy)."""

    tokens: dict[str, set[str]]
    df: dict[str, int]
    articles: int

    def article_tokens(self, source: str) -> set[str]:
        return self.tokens.get(source, set())

    def idf(self, token: str) -> float:
        return idf(self.df.get(token, 0), self.articles)


def idf(df: int, n: int) -> float:
    return math.log((n + 1) / (df + 0.5))


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


def candidate_features(qf: QuestionFeatures, cands: Sequence[CandidateView], corpus: CorpusView,
                       unknown_terms: int = 0) -> np.ndarray:
    """One row of FEATURES per candidate. `unknown_terms`: names of the question no indexed sentence has."""
    n = len(cands)
    X = np.full((n, len(FEATURES)), np.nan, dtype=np.float32)
    if n == 0:
        return X
    col = {f: i for i, f in enumerate(FEATURES)}
    dense = np.array([c.dense if c.dense is not None else np.nan for c in cands], dtype=np.float32)
    bm25 = np.array([c.bm25 if c.bm25 is not None else 0.0 for c in cands], dtype=np.float32)
    bm25_tr = np.array([c.bm25_translated or 0.0 for c in cands], dtype=np.float32)
    rrf = np.array([c.rrf if c.rrf is not None else 0.0 for c in cands], dtype=np.float32)
    ce = np.array([c.rerank if c.rerank is not None else np.nan for c in cands], dtype=np.float32)
    dense_f = np.nan_to_num(dense, nan=-1.0)
    dense_order = np.argsort(-dense_f, kind="stable")
    dense_rank = np.empty(n, dtype=np.float32)
    dense_rank[dense_order] = np.arange(n)
    top2 = np.sort(dense_f)[::-1][:2]
    margin = float(top2[0] - top2[1]) if n > 1 else 1.0
    bm25_rank = np.full(n, _RANK_NONE, dtype=np.float32)
    has_bm = np.where(bm25 > 0)[0]
    bm25_rank[has_bm[np.argsort(-bm25[has_bm], kind="stable")]] = np.arange(len(has_bm))
    rrf_rank = np.empty(n, dtype=np.float32)
    rrf_rank[np.argsort(-rrf, kind="stable")] = np.arange(n)
    ce_best = float(np.nanmax(ce)) if np.isfinite(ce).any() else np.nan
    per_article: dict[str, list[int]] = {}
    for i, c in enumerate(cands):
        per_article.setdefault(c.source, []).append(i)
    qtype_cols = [col[f"q_{t}"] for t in QUESTION_TYPES]
    q_cjk = float(qf.info.cjk)
    q_idf = {t: corpus.idf(t) for t in qf.tokens}
    # per English question word: its 2+ character translations that the collection uses, with their IDF
    unseen = corpus.idf("") - 1e-6  # the IDF of a word no article has
    translations = [] if qf.info.cjk else [
        {z: v for z in dictionary.chinese_for(w) if len(z) >= 2 and (v := corpus.idf(z)) < unseen}
        for w in qf.english_words]
    idf_total = sum(q_idf.values()) or 1.0
    rare = 0.5 * corpus.idf("")  # half the IDF of a word no article has

    def covers(tokens: set[str], simp: str, cjk: bool) -> tuple[float, float, float]:
        """IDF-weighted word cover, IDF-weighted dictionary cover and Chinese bigram cover of the question in a
        text (its tokens; its simplified form)."""
        return (sum(v for t, v in q_idf.items() if t in tokens) / idf_total,
                _dict_idf_cover(qf, simp, translations) if cjk else -1.0,
                len(qf.bigrams & _bigrams(simp)) / len(qf.bigrams) if qf.bigrams and cjk else 0.0)

    article_cache: dict[str, tuple[float, float, float]] = {}
    for c in cands:
        if c.source not in article_cache:
            art = corpus.article_tokens(c.source)
            toks = qf.tokens
            article_cache[c.source] = (
                len(toks & art) / len(toks) if toks else 0.0,
                max((v for t, v in q_idf.items() if t not in art), default=0.0),
                _dict_cover_article(qf, art),
            )
    for i, c in enumerate(cands):
        text = c.text
        s_cjk = is_cjk(text)
        simplified = to_simplified(text) if s_cjk else text
        s_tokens = set(tokenize(text))
        row = X[i]
        row[col["q_cjk"]] = q_cjk
        row[col["s_cjk"]] = float(s_cjk)
        row[col["dense"]] = dense[i]
        row[col["dense_gap"]] = top2[0] - dense_f[i]
        row[col["dense_rank"]] = dense_rank[i]
        row[col["dense_margin"]] = margin
        row[col["bm25"]] = bm25[i]
        row[col["bm25_rel"]] = bm25[i] / bm25.max() if bm25.max() > 0 else 0.0
        row[col["bm25_rank"]] = bm25_rank[i]
        row[col["bm25_translated"]] = bm25_tr[i]
        row[col["bm25_translated_rel"]] = bm25_tr[i] / bm25_tr.max() if bm25_tr.max() > 0 else 0.0
        row[col["rrf_rank"]] = rrf_rank[i]
        row[col["ce"]] = ce[i]
        row[col["ce_gap"]] = ce_best - ce[i] if np.isfinite(ce[i]) else np.nan
        row[col["ce_best"]] = ce_best
        toks = qf.tokens
        row[col["cover"]] = len(toks & s_tokens) / len(toks) if toks else 0.0
        cover_article, missing_idf, dict_article = article_cache[c.source]
        row[col["cover_article"]] = cover_article
        s_cover = covers(s_tokens, simplified, s_cjk)
        if c.context:  # the sentence with its neighbours
            w_tokens = s_tokens | set(tokenize(c.context))
            window = f"{c.context} {text}"
            w_cover = covers(w_tokens, to_simplified(window) if s_cjk else window, s_cjk)
        else:
            w_tokens, w_cover = s_tokens, s_cover
        row[col["idf_cover"]], row[col["dict_idf_cover"]], row[col["bigram_cover"]] = s_cover
        row[col["ctx_idf_cover"]], row[col["ctx_dict_idf_cover"]], row[col["ctx_bigram_cover"]] = w_cover
        row[col["missing_idf_max"]] = missing_idf  # a rare question word the article lacks: likely not answerable
        row[col["unknown_terms"]] = unknown_terms
        row[col["dict_cover_article"]] = dict_article
        row[col["dict_cover"]] = _dict_cover(qf, text, simplified, s_tokens)
        missing = [v for t, v in q_idf.items() if t not in w_tokens]
        row[col["ctx_missing_idf_max"]] = max(missing, default=0.0)
        row[col["ctx_missing_rare"]] = sum(1 for v in missing if v >= rare)
        row[col["longest_common"]] = (
            SequenceMatcher(None, qf.simplified, simplified, autojunk=False).find_longest_match().size
            if qf.bigrams and s_cjk else 0.0)
        row[col["numbers_shared"]] = (sum(1 for x in qf.numbers if x in text.replace(",", "")) / len(qf.numbers)
                                      if qf.numbers else -1.0)
        s_num, s_date = has_number(text), has_date(text)
        row[col["s_number"]] = float(s_num)
        row[col["s_date"]] = float(s_date)
        row[col["type_match"]] = float(s_date if qf.qtype == "when" else s_num if qf.qtype == "count" else True)
        row[col["counts_asked"]] = counts_asked(qf.info, text)
        row[col["names_shared"]] = (sum(1 for g in qf.names if g & s_tokens) / len(qf.names) if qf.names else -1.0)
        # names the question does not contain: a who-question's answer is one
        row[col["new_names"]] = min(5, sum(1 for t in proper_terms(text) if t.lower() not in qf.lower))
        row[col["log_chars"]] = math.log1p(len(text))
        same = per_article[c.source]
        row[col["article_candidates"]] = len(same)
        row[col["article_best_dense"]] = max(dense_f[j] for j in same)
        for t, k in zip(QUESTION_TYPES, qtype_cols):
            row[k] = float(qf.qtype == t)
    for name in ("idf_cover", "dict_idf_cover", "bigram_cover", "longest_common", "bm25", "ctx_idf_cover",
                 "ctx_dict_idf_cover", "ctx_bigram_cover"):
        values = X[:, col[name]]
        X[:, col[f"{name}_gap"]] = np.nanmax(values) - values if np.isfinite(values).any() else np.nan
    return X


class DecisionModel:
    """The trained scorer and its per-pair thresholds. Loaded lazily (`warm_up`)."""

    def __init__(self, path: Path | None = None, booster: Any = None, thresholds: dict[str, float] | None = None,
                 meta: dict[str, Any] | None = None, min_abstention: float | None = None) -> None:
        self.path = path or MODEL_DIR / f"{MODEL_NAME}.txt"
        self.min_abstention = min_abstention  # None: the card's thresholds
        self._booster = booster
        self.thresholds: dict[str, float] = dict(thresholds or {})
        self.meta: dict[str, Any] = dict(meta or {})
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        if self._booster is not None:
            return
        with self._lock:
            if self._booster is not None:
                return
            from .embedding import ModelLoadError

            try:
                import lightgbm
            except ImportError as e:  # pragma: no cover - a dependency
                raise ModelLoadError("The answer decision needs LightGBM: pip install lightgbm") from e
            card = self.path.with_suffix(".json")
            if not self.path.exists() or not card.exists():
                raise ModelLoadError(f"The answer-decision model {self.path} (and its .json card) is missing. "
                                     "Run `make train` to build it.")
            meta = json.loads(card.read_text(encoding="utf-8"))
            if tuple(meta.get("features", ())) != FEATURES:
                raise ModelLoadError(f"{self.path} was trained on other features than this version computes. "
                                     "Run `make train`.")
            self.meta = meta
            self.thresholds = {k: float(v) for k, v in meta["thresholds"].items()}
            if self.min_abstention is not None:
                curves = meta.get("curves") or {}
                if not curves:
                    raise ModelLoadError(f"{card} has no curves, so `min_abstention` can't be applied. "
                                         "Run `make train`.")
                self.thresholds = {pair: operating_point(curve, self.min_abstention)["threshold"]
                                   for pair, curve in curves.items()}
            self._booster = lightgbm.Booster(model_file=str(self.path))

    def predict(self, X: np.ndarray) -> np.ndarray:
        self.warm_up()
        if len(X) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self._booster.predict(X, num_threads=1), dtype=np.float32)

    def threshold(self, pair: str) -> float:
        self.warm_up()
        if pair in self.thresholds:
            return self.thresholds[pair]
        return max(self.thresholds.values())  # a pair without training data gets the strictest bar


def balanced_point(curve: list[dict[str, float]]) -> dict[str, float]:
    """The point of a curve (threshold, answer and abstention accuracy) with the best balanced accuracy (mean of
    answer and abstention accuracy). Ties: the more abstaining point."""
    return max(curve, key=lambda c: (round(c["answer"] + c["abstain"], 6), c["abstain"]))


def floor_point(curve: list[dict[str, float]], min_abstention: float) -> dict[str, float] | None:
    """The point that answers most while abstaining on at least `min_abstention` of the unanswerable questions
    (ties: the more abstaining point); None if no point abstains that much."""
    ok = [c for c in curve if c["abstain"] >= min_abstention]
    return max(ok, key=lambda c: (round(c["answer"], 6), c["abstain"])) if ok else None


def operating_point(curve: list[dict[str, float]], min_abstention: float) -> dict[str, float]:
    """The point to answer at: `floor_point`, unless that needs a threshold above the `balanced_point`'s. Past that
    point each extra abstention costs more than one answer, so the balanced point is used instead."""
    balanced = balanced_point(curve)
    floor = floor_point(curve, min_abstention)
    return floor if floor is not None and floor["threshold"] <= balanced["threshold"] else balanced


def candidate_views(retrieved: Any) -> list[tuple[Any, CandidateView]]:
    """The retrieved sentences that may be cited (bylines are not), with their retrieval scores."""
    from .retrieval import scores_of

    out = []
    for n in retrieved.nodes:
        text = n.node.get_content()
        if not citable(text):
            continue
        sc = scores_of(n)
        source = n.node.metadata.get("source", "")
        before, after = retrieved.bm25.neighbours(n.node.node_id) if retrieved.bm25 is not None else ("", "")
        out.append((n, CandidateView(text=text, source=source, dense=sc.get("dense"), bm25=sc.get("bm25"),
                                     rrf=sc.get("rrf"), rerank=sc.get("rerank"),
                                     bm25_translated=sc.get("bm25_translated"),
                                     context=f"{before} {after}".strip())))
    return out


def citable(text: str) -> bool:
    """Bylines and metadata lines are never answers."""
    return not is_byline(text)
