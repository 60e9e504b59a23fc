"""Answering one question from its retrieved candidates, or abstaining.

- question.py: the question's analysis (`analyse_question`: type, names, numbers, Chinese words), done once per
  question; retrieval uses it too;
- features.py and decision.py: each candidate's features and the learned answer-or-abstain model (LightGBM) with
  its thresholds per language pair;
- extractive.py: `ExtractiveAnswerer`, the default: quote the best sentence if it clears its threshold;
- generative.py and grounding.py: `LLMAnswerer` (LLM mode) and the check of every generated sentence against the
  source it cites;
- types.py: what an answer is: `Answer`, `Citation`, `SentenceCheck`, the fixed phrases, the `Answerer` interface.

The package exports only types and question, which are plain Python: import an answerer from its module
(`from citechat.answer.extractive import ExtractiveAnswerer`). That keeps the command line quick to start and keeps
retrieval, which imports question.py, free of a cycle through the answerers, which read retrieval's results.
"""

from __future__ import annotations

from .question import QuestionInfo, analyse_question
from .types import CANNOT_ANSWER, NOT_IN_ARTICLES, Answer, Answerer, Citation, SentenceCheck, final_item

__all__ = ["CANNOT_ANSWER", "NOT_IN_ARTICLES", "Answer", "Answerer", "Citation", "QuestionInfo", "SentenceCheck",
           "analyse_question", "final_item"]
