"""The LLM prompts: system.txt, qa.txt and condense.txt are the files in the checkout's top-level `prompts/`; this
package's *.txt are links to them, so the wheel ships them (read with importlib.resources, so an installed wheel
works as well as a checkout; tests/test_wheel.py checks). `settings.prompts_dir` names an optional override folder: a file
there replaces the shipped one of the same name; a file missing there falls back to the shipped one. Every prompt
is checked for exactly the placeholders the code fills in."""

from __future__ import annotations

import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PromptError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["REQUIRED", "Prompts", "PromptError", "load_prompts", "placeholders", "shipped"]

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


def shipped(name: str) -> Traversable:
    """The prompt file `name` as shipped in the package."""
    return resources.files(__name__) / name


def _source(name: str, folder: Path | None) -> Traversable | Path:
    if folder is not None and (folder / name).is_file():
        return folder / name
    return shipped(name)


def load_prompts(folder: Path | None = None) -> Prompts:
    """The three prompts: each from `folder` when it holds that file, else the shipped one."""
    if folder is not None:
        folder = Path(folder)
        if not folder.is_dir():
            raise PromptError(f"the prompt folder {folder} (CITECHAT_PROMPTS_DIR) does not exist")
    texts = {}
    for name, needed in REQUIRED.items():
        path = _source(name, folder)
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
