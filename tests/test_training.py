"""`make train` end to end on a tiny slice of the public sets: real retrieval, real LightGBM, a model that loads."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from citechat.answer.decision import DecisionModel, MODEL_DIR, MODEL_NAME
from citechat.answer.features import FEATURES

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))

import public_sets  # noqa: E402
import train_decision  # noqa: E402

needs_public = pytest.mark.skipif(not public_sets.PUBLIC_DIR.exists(), reason="../shared/eval/public is not here")


@needs_public
def test_retraining_on_a_tiny_set_gives_a_model_that_loads(tmp_path):
    out, folds = tmp_path / "model", tmp_path / "folds"
    status = train_decision.main(["--sample", "--sets", "en-en,zh-zh", "--limit", "24", "--folds", "3",
                                  "--rounds", "20", "--out", str(out), "--fold-dir", str(folds),
                                  "--plot", str(tmp_path / "curves.png"), "--cache", str(tmp_path / "cache"),
                                  "--index-root", str(tmp_path / "index")])
    assert status == 0
    card = json.loads((out / f"{MODEL_NAME}.json").read_text())
    assert card["features"] == list(FEATURES)
    assert card["trained_on"]["en-en"]["questions"] == 24
    assert all(0 < t < 1 for t in card["thresholds"].values())
    mapping = json.loads((folds / "folds.json").read_text())
    assert len(mapping["question_fold"]) == 48 and set(mapping["question_fold"].values()) <= {0, 1, 2}
    assert len(list((tmp_path / "cache").glob("*-retrieved-*.pkl"))) == 2  # retrieval is cached per set
    model = DecisionModel(out / f"{MODEL_NAME}.txt")
    p = model.predict(np.zeros((3, len(FEATURES)), dtype=np.float32))
    assert p.shape == (3,) and ((0 <= p) & (p <= 1)).all()
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_the_shipped_model_matches_the_features_this_version_computes():
    model = DecisionModel(MODEL_DIR / f"{MODEL_NAME}.txt")
    model.warm_up()  # raises if the card's feature list differs from FEATURES
    assert {"en-en", "en-zh", "zh-zh"} <= set(model.thresholds)
    assert model.threshold("fr-zh") == max(model.thresholds.values())  # a pair never trained gets the strictest


def test_min_abstention_reads_each_pairs_threshold_off_the_curves():
    shipped = DecisionModel(MODEL_DIR / f"{MODEL_NAME}.txt")
    shipped.warm_up()
    floor = train_decision.MIN_ABSTAIN
    same = DecisionModel(MODEL_DIR / f"{MODEL_NAME}.txt", min_abstention=floor)
    same.warm_up()
    assert same.thresholds == pytest.approx(shipped.thresholds)  # the card's thresholds are this floor's
    loose = DecisionModel(MODEL_DIR / f"{MODEL_NAME}.txt", min_abstention=0.5)
    strict = DecisionModel(MODEL_DIR / f"{MODEL_NAME}.txt", min_abstention=0.97)
    loose.warm_up(), strict.warm_up()
    for pair, t in shipped.thresholds.items():
        assert loose.thresholds[pair] <= t <= strict.thresholds[pair]
    assert any(loose.thresholds[p] < t for p, t in shipped.thresholds.items())


def test_a_model_trained_on_other_features_is_refused(tmp_path):
    from citechat.errors import ModelLoadError

    path = tmp_path / "decision.txt"
    path.write_text((MODEL_DIR / f"{MODEL_NAME}.txt").read_text())
    card = json.loads((MODEL_DIR / f"{MODEL_NAME}.json").read_text())
    card["features"] = card["features"][:-1]
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="make train"):
        DecisionModel(path).warm_up()
