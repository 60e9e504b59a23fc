"""Prompts are the top-level prompts/*.txt, which the package links to and ships (citechat/prompts/*.txt, see
test_wheel.py); an override folder replaces some or all of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from citechat.config import Settings
from citechat.prompts import REQUIRED, PromptError, load_prompts, placeholders, shipped

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_prompts_load_from_the_package():
    p = load_prompts()
    for name, needed in REQUIRED.items():
        text = shipped(name).read_text(encoding="utf-8")
        assert placeholders(text) == needed
        assert getattr(p, name.removesuffix(".txt")) == text.strip()
        assert Path(str(shipped(name))).parent.parent.name == "citechat"
        assert text == (ROOT / "prompts" / name).read_text(encoding="utf-8")  # one copy: the top-level file
    assert load_prompts(None) == p


def test_an_override_folder_replaces_only_the_files_it_holds(tmp_path):
    (tmp_path / "qa.txt").write_text("Sources:\n{sources}\nAnswer tersely: {question}\n", encoding="utf-8")
    p = load_prompts(tmp_path)
    assert p.qa == "Sources:\n{sources}\nAnswer tersely: {question}"
    shipped_prompts = load_prompts()
    assert p.system == shipped_prompts.system and p.condense == shipped_prompts.condense
    assert p.qa != shipped_prompts.qa


def test_the_setting_names_the_override_folder(tmp_path, monkeypatch):
    (tmp_path / "condense.txt").write_text("{chat_history}\nStandalone: {question}", encoding="utf-8")
    monkeypatch.setenv("CITECHAT_PROMPTS_DIR", str(tmp_path))
    settings = Settings()
    assert settings.prompts_dir == tmp_path
    assert load_prompts(settings.prompts_dir).condense == "{chat_history}\nStandalone: {question}"
    assert "shipped" in Settings.model_fields["prompts_dir"].description


def test_a_bad_placeholder_in_an_override_is_a_clear_error(tmp_path):
    (tmp_path / "qa.txt").write_text("Question: {question}\n{sourcez}", encoding="utf-8")
    with pytest.raises(PromptError,
                       match="qa.txt: placeholders must be.*missing \\['sources'\\].*unknown \\['sourcez'\\]"):
        load_prompts(tmp_path)
    (tmp_path / "qa.txt").write_text("Question: {question} {sources} {", encoding="utf-8")
    with pytest.raises(PromptError, match="bad placeholder syntax"):
        load_prompts(tmp_path)


def test_a_missing_override_folder_is_an_error(tmp_path):
    with pytest.raises(PromptError, match="does not exist"):
        load_prompts(tmp_path / "no-such-folder")
