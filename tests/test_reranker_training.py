"""training/train_reranker.py's listwise option: a question's pairs stay together, and its loss ranks the gold
sentence against that question's other sentences only."""

import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))

import train_reranker  # noqa: E402

torch = pytest.importorskip("torch")


def rows(question: str, n_neg: int, positive: bool = True) -> list[dict]:
    out = [{"q": question, "s": f"{question} neg {i}", "y": 0, "group": "a.txt", "set": "en-en", "id": question}
           for i in range(n_neg)]
    return out + ([{"q": question, "s": f"{question} gold", "y": 1, "group": "a.txt", "set": "en-en",
                    "id": question}] if positive else [])


def test_by_question_keeps_each_question_together_positive_first_in_a_seeded_order():
    mixed = [r for pair in zip(rows("q1", 3), rows("q2", 3), rows("q3", 3), strict=True) for r in pair]
    ordered = train_reranker.by_question(mixed, seed=1)
    ids = [r["id"] for r in ordered]
    assert sorted(set(ids)) == ["q1", "q2", "q3"] and len(ordered) == len(mixed)
    for q in ("q1", "q2", "q3"):
        at = [i for i, x in enumerate(ids) if x == q]
        assert at == list(range(at[0], at[0] + 4)) and ordered[at[0]]["y"] == 1
    assert train_reranker.by_question(mixed, seed=1) == ordered
    assert any(train_reranker.by_question(mixed, seed=s) != ordered for s in range(2, 6))


def test_listwise_loss_is_the_gold_sentences_softmax_cross_entropy_within_its_question():
    y = torch.tensor([1.0, 0, 0, 0, 1, 0, 0, 0])
    questions = ["a"] * 4 + ["b"] * 4
    flat = train_reranker.listwise_loss(torch.zeros(8), y, questions)
    assert float(flat) == pytest.approx(math.log(4))
    right = train_reranker.listwise_loss(torch.tensor([3.0, 0, 0, 0, 3, 0, 0, 0]), y, questions)
    wrong = train_reranker.listwise_loss(torch.tensor([0.0, 3, 0, 0, 0, 3, 0, 0]), y, questions)
    assert float(right) < math.log(4) < float(wrong)
    # a question cut off by the batch edge (no positive here) adds nothing
    cut = train_reranker.listwise_loss(torch.zeros(6), torch.tensor([1.0, 0, 0, 0, 0, 0]), ["a"] * 4 + ["c"] * 2)
    assert float(cut) == pytest.approx(math.log(4))
