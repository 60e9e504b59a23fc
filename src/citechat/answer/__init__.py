"""Answering one question from its retrieved candidates, or abstaining.

- question.py: the question's analysis (`analyse_question`: type, names, numbers, Chinese words), done once per
  question; retrieval uses it too;
- features.py and decision.py: each candidate's features and the learned answer-or-abstain model (LightGBM) with
  its thresholds per language pair;
- extractive.py: `ExtractiveAnswerer`, the default: quote the best sentence if it clears its threshold;
- generative.py and grounding.py: `LLMAnswerer` (LLM mode) and the check of every generated sentence against the
  source it cites;
- types.py: what an answer is: `Answer`, `Citation`, `SentenceCheck`, the fixed phrases, the `Answerer` interface.

types and question are plain Python and load at once; the answerers (numpy, LightGBM, the store) are imported
when first used (`from citechat.answer import ExtractiveAnswerer`). That also keeps retrieval, which imports
question.py, free of a cycle through the answerers, which read retrieval's results.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .question import QuestionInfo, analyse_question
from .types import CANNOT_ANSWER, NOT_IN_ARTICLES, Answer, Answerer, Citation, SentenceCheck, final_item

if TYPE_CHECKING:
    from .decision import DecisionModel
    from .extractive import ExtractiveAnswerer
    from .features import FEATURES, candidate_features, question_features
    from .generative import LLMAnswerer
    from .grounding import GroundingChecker

_LAZY = {"DecisionModel": "decision", "ExtractiveAnswerer": "extractive", "FEATURES": "features",
         "candidate_features": "features", "question_features": "features", "LLMAnswerer": "generative",
         "GroundingChecker": "grounding"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


__all__ = ["CANNOT_ANSWER", "FEATURES", "NOT_IN_ARTICLES", "Answer", "Answerer", "Citation", "DecisionModel",
           "ExtractiveAnswerer", "GroundingChecker", "LLMAnswerer", "QuestionInfo", "SentenceCheck",
           "analyse_question", "candidate_features", "final_item", "question_features"]
