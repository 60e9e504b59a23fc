"""The learned answer-or-abstain decision.

A gradient-boosted model (LightGBM) scores every retrieved (question, sentence) pair: the probability that the
sentence holds the answer (its features: `features.py`). The answer quotes the best sentence when its probability
clears the threshold chosen for the question's language pair (en-en, en-zh, zh-zh, zh-en) from that pair's curve;
otherwise citechat abstains. The model and its thresholds are files in `citechat/models/`, made by `make train`
(training/train_decision.py) on public QA data only; docs/decision.md has the curves and figures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelLoadError
from ..ingest.loading import is_byline
from ..lazy import WarmUp
from .features import FEATURES

MODEL_DIR = Path(__file__).resolve().parents[1] / "models"  # citechat/models/
MODEL_NAME = "decision"


def pair_of(question_cjk: bool, sentence_cjk: bool) -> str:
    return f"{'zh' if question_cjk else 'en'}-{'zh' if sentence_cjk else 'en'}"


class DecisionModel(WarmUp):
    """The trained scorer and its per-pair thresholds. Loaded lazily (`warm_up`)."""

    def __init__(self, path: Path | None = None, booster: Any = None, thresholds: dict[str, float] | None = None,
                 meta: dict[str, Any] | None = None, min_abstention: float | None = None) -> None:
        super().__init__()
        self.path = path or MODEL_DIR / f"{MODEL_NAME}.txt"
        self.min_abstention = min_abstention  # None: the card's thresholds
        self._booster = booster
        self._ready = booster is not None  # a booster handed in is the model; nothing to load
        self.thresholds: dict[str, float] = dict(thresholds or {})
        self.meta: dict[str, Any] = dict(meta or {})

    def _load(self) -> None:
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


def citable(text: str) -> bool:
    """Bylines and metadata lines are never answers."""
    return not is_byline(text)
