"""Prompt files in `prompts/`, loaded once and checked for exactly the placeholders the code fills in."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from .errors import PromptError

PROMPT_DIR = Path(__file__).resolve().parents[2] / "prompts"

REQUIRED = {
    "system.txt": {"cannot_answer"},
    "qa.txt": {"sources", "question"},
    "condense.txt": {"chat_history", "question"},
}


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class Prompts:
    system: str
    qa: str
    condense: str


def load_prompts(folder: Path | None = None) -> Prompts:
    folder = Path(folder or PROMPT_DIR)
    texts = {}
    for name, needed in REQUIRED.items():
        path = folder / name
        if not path.is_file():
            raise PromptError(f"prompt file {path} is missing")
        text = path.read_text(encoding="utf-8")
        try:
            found = placeholders(text)
        except ValueError as e:
            raise PromptError(f"{path}: bad placeholder syntax ({e}); write literal braces as {{{{ and }}}}") from e
        if found != needed:
            missing, extra = needed - found, found - needed
            raise PromptError(f"{path}: placeholders must be {sorted(needed)}"
                              + (f"; missing {sorted(missing)}" if missing else "")
                              + (f"; unknown {sorted(extra)}" if extra else ""))
        texts[name.removesuffix(".txt")] = text.strip()
    return Prompts(**texts)
