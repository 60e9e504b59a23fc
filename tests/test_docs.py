"""Docs that can't drift (issue 22, 9): what README.md and docs/*.md name must exist in the code.

- Every `CITECHAT_<NAME>` variable they name is a real setting of `config.Settings`: the valid names are derived
  from the pydantic model (its env prefix, its nested delimiter, each field and each nested model's fields), not
  from a hand list. The only other names allowed are the tooling knobs that the repository's own scripts read
  from the environment (tests/, bench/, evals/, training/: e.g. CITECHAT_FUZZ_EXAMPLES), found by reading those
  scripts; the package itself reads no variable that is not a setting.
- The README's settings table gives each setting's real default.
- Every `*.py` file, `file.py::test_name` and docs/ file they name exists.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from citechat.config import Settings

ROOT = Path(__file__).resolve().parents[1]
TOOLING = ("tests", "bench", "evals", "training")


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _nested_model(annotation: object) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def setting_names(settings_cls: type[Settings] = Settings) -> tuple[set[str], set[str]]:
    """(every environment variable that sets a field, the prefixes of the nested groups), upper case, as
    pydantic-settings maps them: prefix + field name, and prefix + group + delimiter + field for nested models."""
    prefix = settings_cls.model_config.get("env_prefix", "").upper()
    delim = (settings_cls.model_config.get("env_nested_delimiter") or "").upper()
    names: set[str] = set()
    groups: set[str] = set()
    for name, field in settings_cls.model_fields.items():
        names.add(prefix + name.upper())
        nested = _nested_model(field.annotation)
        if nested is not None and delim:
            group = prefix + name.upper() + delim
            groups.add(group)
            names.update(group + sub.upper() for sub in nested.model_fields)
    return names, groups


ENV_READ = re.compile(r"""(?:environ(?:\.get)?\s*[(\[]|getenv\s*\()\s*["'](CITECHAT_[A-Za-z0-9_]+)["']""")


def tooling_knobs(root: Path = ROOT) -> set[str]:
    """CITECHAT_* variables that the repository's scripts (not the package) read from the environment."""
    found: set[str] = set()
    for folder in TOOLING:
        for path in (root / folder).rglob("*.py"):
            found.update(m.upper() for m in ENV_READ.findall(path.read_text(encoding="utf-8")))
    return found


MENTION = re.compile(r"\bCITECHAT_([A-Za-z0-9_]*)")


def unknown_variables(text: str, names: set[str], groups: set[str], knobs: set[str]) -> list[str]:
    """The CITECHAT_* names in `text` that are neither a setting, a nested group (`CITECHAT_RETRIEVAL__*`) nor a
    tooling knob. The bare prefix (`CITECHAT_`, `CITECHAT_*`) is not a variable."""
    bad = []
    for m in MENTION.finditer(text):
        var = "CITECHAT_" + m.group(1).upper()
        if var == "CITECHAT_" or var in names or var in groups or var in knobs:
            continue
        bad.append(var)
    return bad


def test_every_citechat_variable_in_the_docs_is_a_real_setting():
    names, groups = setting_names()
    knobs = tooling_knobs()
    problems = []
    for path in doc_files():
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for var in unknown_variables(line, names, groups, knobs):
                problems.append(f"{path.relative_to(ROOT)}:{lineno}: {var}")
    assert not problems, "not a setting of config.Settings (nor a knob a script reads):\n" + "\n".join(problems)


def test_the_matcher_catches_a_made_up_variable():
    """The check above can fail: made-up names (top-level, nested, a wrong group) are reported, real ones not."""
    names, groups = setting_names()
    knobs = tooling_knobs()
    text = ("Set `CITECHAT_INDEX_DIR`, `CITECHAT_RETRIEVAL__DENSE_TOP_K=20` or `CITECHAT_GROUNDING__*` (see the "
            "`CITECHAT_` prefix, `CITECHAT_*`), `CITECHAT_FUZZ_EXAMPLES=10`; not `CITECHAT_NO_SUCH_SETTING`, "
            "`CITECHAT_RETRIEVAL__DENSE_TOPK`, `CITECHAT_ANSWER__MIN_DENSE_CROSSLINGUAL`, `CITECHAT_DENSE_TOP_K` "
            "(nested, so it needs its group) or `CITECHAT_NOSUCHGROUP__X`.")
    assert unknown_variables(text, names, groups, knobs) == [
        "CITECHAT_NO_SUCH_SETTING", "CITECHAT_RETRIEVAL__DENSE_TOPK", "CITECHAT_ANSWER__MIN_DENSE_CROSSLINGUAL",
        "CITECHAT_DENSE_TOP_K", "CITECHAT_NOSUCHGROUP__X"]


def test_the_names_come_from_the_model():
    """Names follow the model (a field added there is valid at once) and pydantic-settings agrees with them."""
    names, groups = setting_names()
    assert {"CITECHAT_INDEX_DIR", "CITECHAT_RETRIEVAL__DENSE_TOP_K", "CITECHAT_ANSWER__MIN_ABSTENTION"} <= names
    assert "CITECHAT_RETRIEVAL__" in groups
    assert "CITECHAT_RETRIEVAL" in names  # the whole group as JSON is a variable too
    total = sum(1 + len(_nested_model(f.annotation).model_fields) if _nested_model(f.annotation) else 1
                for f in Settings.model_fields.values())
    assert len(names) == total


def test_names_set_what_they_say(monkeypatch):
    """Two derived names, one top-level and one nested, really set their fields."""
    monkeypatch.setenv("CITECHAT_ANSWER_CACHE", "7")
    monkeypatch.setenv("CITECHAT_RETRIEVAL__DENSE_TOP_K", "3")
    s = Settings()
    assert s.answer_cache == 7 and s.retrieval.dense_top_k == 3


def test_tooling_knobs_are_read_by_scripts_not_by_the_package():
    knobs = tooling_knobs()
    assert "CITECHAT_FUZZ_EXAMPLES" in knobs and "CITECHAT_CRASH_RUNS" in knobs
    names, _ = setting_names()
    package_reads = set()
    for path in (ROOT / "src" / "citechat").rglob("*.py"):
        package_reads.update(m.upper() for m in ENV_READ.findall(path.read_text(encoding="utf-8")))
    assert package_reads <= names, f"the package reads variables that are not settings: {package_reads - names}"


ROW = re.compile(r"^\|\s*`(CITECHAT_[A-Z0-9_]+)`(?:\s*/\s*`--[a-z-]+`)?\s*\|\s*`([^`|]*)`\s*\|")


def test_readme_settings_table_gives_the_real_defaults():
    """A row `| `CITECHAT_X` | `default` | ...` (one variable, one literal default) shows the field's default."""
    checked = 0
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if not m:
            continue
        var, shown = m.groups()
        path = var.removeprefix("CITECHAT_").lower().split("__")
        model: type[BaseModel] = Settings
        for part in path[:-1]:
            model = _nested_model(model.model_fields[part].annotation)
        default = model.model_fields[path[-1]].get_default(call_default_factory=True)
        real = str(default).lower() if isinstance(default, bool) else str(default)
        assert shown == real, f"README: {var} default shown as {shown!r}, config.py says {real!r}"
        checked += 1
    assert checked >= 10


FILE_REF = re.compile(r"[A-Za-z0-9_./-]*[A-Za-z0-9_]\.py\b")
TEST_REF = re.compile(r"([A-Za-z0-9_/]+\.py)::([A-Za-z0-9_]+)")
DOC_REF = re.compile(r"docs/[A-Za-z0-9_./-]+\.(?:md|png)|\]\(([A-Za-z0-9_-]+\.(?:md|png))\)")


def _repo_py_files() -> list[str]:
    skip = {".venv", ".git", "node_modules", "build", "dist"}
    return [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py")
            if not skip.intersection(p.relative_to(ROOT).parts)]


def _exists(ref: str, files: list[str]) -> list[str]:
    ref = ref.removeprefix("./")
    return [f for f in files if f == ref or f.endswith("/" + ref)]


def test_every_module_and_file_named_in_the_docs_exists():
    files = _repo_py_files()
    problems = []
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        for ref in sorted(set(FILE_REF.findall(text))):
            if not _exists(ref, files):
                problems.append(f"{path.relative_to(ROOT)}: {ref} (no such file)")
        for ref, test in sorted(set(TEST_REF.findall(text))):
            found = _exists(ref, files)
            if found and not any(re.search(rf"def {test}\b", (ROOT / f).read_text(encoding="utf-8"))
                                 for f in found):
                problems.append(f"{path.relative_to(ROOT)}: {ref}::{test} (no such test)")
        for m in DOC_REF.finditer(text):
            target = ROOT / m.group(0) if m.group(1) is None else path.parent / m.group(1)
            if not target.exists():
                problems.append(f"{path.relative_to(ROOT)}: {m.group(1) or m.group(0)} (no such file)")
    assert not problems, "\n".join(problems)
