"""The public QA sets of ../shared/eval/public (half A): where they are, which corpus each uses, and one engine per
corpus with its own index folder. Shared by training/train_decision.py and evals/public_eval.py."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_DEFAULT_DIR = ROOT.parent / "shared" / "eval" / "public"
PUBLIC_DIR = Path(os.environ.get("CITECHAT_PUBLIC_DIR", _DEFAULT_DIR))
# Another folder of sets in the same layout (say a held-back half) gets indexes of its own.
# (Not under index/, which is the app's own index folder.)
INDEX_ROOT = Path(os.environ.get("CITECHAT_PUBLIC_INDEX") or (
    ROOT / ("index-public" if PUBLIC_DIR == _DEFAULT_DIR else f"index-public-{PUBLIC_DIR.resolve().name}")))
SETS = {"en-en": "en", "en-zh": "zh", "zh-zh": "zh", "cmrc-zh": "cmrc", "zh-en": "en"}  # set -> corpus
# zh-en is derived: XQuAD's Chinese questions (zh-zh) asked of the English articles, with the gold answers of the
# same question ids in en-en (XQuAD ids are SQuAD ids). Only ids present in both are used.
DERIVED = {"zh-en": ("zh-zh", "en-en")}


@dataclass
class Question:
    set: str
    id: str
    question: str
    answers: list[str]
    source: str | None
    evidence: str | None
    kind: str

    @property
    def key(self) -> str:
        return f"{self.set}:{self.id}"


def set_file(name: str, full: bool) -> Path:
    name = DERIVED.get(name, (name,))[0]
    return PUBLIC_DIR / (f"{name}.jsonl" if full else f"{name}.sample.jsonl")


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        raise SystemExit(f"error: {path} not found. Set CITECHAT_PUBLIC_DIR to the folder of the public sets.")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_set(name: str, full: bool = True, limit: int | None = None) -> list[Question]:
    rows = _rows(set_file(name, full))
    if name in DERIVED:
        gold = {r["id"]: r for r in _rows(set_file(DERIVED[name][1], True))}
        rows = [{**gold[r["id"]], "question": r["question"], "kind": f"xquad-{name}"} for r in rows if r["id"] in gold]
    out = [Question(name, str(r["id"]), r["question"], list(r.get("answers") or []), r.get("source"),
                    r.get("evidence"), r.get("kind", "")) for r in rows]
    return out[:limit] if limit else out


def engine_for(corpus: str, progress: bool = True, index_root: Path | None = None, multilingual: bool = True):
    """An engine over one public corpus, indexed (incrementally) into index-public/<corpus>. `multilingual=False`:
    without the multilingual cross-encoder (training adds its out-of-fold scores itself)."""
    from citechat.config import RetrievalSettings, Settings
    from citechat.engine import Engine

    data = PUBLIC_DIR / f"corpus-{corpus}"
    retrieval = RetrievalSettings() if multilingual else RetrievalSettings(multilingual_reranker="none")
    settings = Settings(index_dir=(index_root or INDEX_ROOT) / corpus, data_dir=data, chroma_url=None,
                        retrieval=retrieval)
    engine = Engine(settings)
    engine.ingest([data], progress=progress)
    engine.retriever.warm_up()  # not the decision model: training runs before there is one
    return engine
