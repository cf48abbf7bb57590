"""The policy book is parsed by libyaml's safe loader when PyYAML has it (``policy.load.safe_load``): the same
data as PyYAML's pure safe loader — value for value and type for type (``True`` is not ``1``, a date is not its
text) — on the books we ship, the sample books and generated variant books, and on the scalars YAML 1.1 reads
in more than one way.  Without libyaml the pure loader is the one used."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from quanhuiqi.policy.load import _SAFE_LOADER, safe_load
from quanhuiqi.synth.policies import generate_policies, write_policies

ROOT = Path(__file__).resolve().parents[2]
BOOKS = [ROOT / "src" / "quanhuiqi" / "synth" / "data" / "policies", ROOT / "data_samples" / "policies",
         ROOT / "data_samples" / "policies_real"]

# scalars YAML 1.1 resolves by pattern: booleans, octal/hex/sexagesimal numbers, dates, nulls, infinities
TRICKY = """
flags: [yes, no, on, off, y, n, true, False, TRUE, ~, null, Null, ""]
numbers: [0o17, 017, 0x1F, 1_000, 1e3, 1.5e-3, +1, -.5, .inf, -.Inf, .nan, 190:20:30, 0b101, 3., 007]
dates: [2025-07-01, 2025-7-1, 2025-07-01 10:00:00, "2025-07-01", 2025-07-01T10:00:00Z]
text: [营业收入≥2000万元, '单引号', "双引号\\t", C3911, 370102, "370102", 0370102, 1.0.0, "- x"]
block: |
  第一行
  第二行
folded: >
  连续
  的文本
nested: {a: [1, {b: 2025-01-01}], "c d": null}
"""


def typed(value: object) -> object:
    """``value`` with every leaf tagged by its type, NaN made comparable."""
    if isinstance(value, dict):
        return {typed(k): typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, float) and value != value:
        return ("float", "nan")
    return (type(value).__name__, value)


def pure(text: str) -> object:
    return yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - the pure safe loader, for comparison


def test_the_loader_is_libyaml_safe_loader_when_present_else_the_pure_one():
    assert _SAFE_LOADER is (yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader)
    assert issubclass(_SAFE_LOADER, yaml.constructor.SafeConstructor)
    assert not issubclass(_SAFE_LOADER, yaml.constructor.FullConstructor)  # never builds Python objects


def test_tricky_scalars_read_alike():
    mine = safe_load(TRICKY)
    assert typed(mine) == typed(pure(TRICKY))
    assert mine["flags"][:4] == [True, False, True, False] and mine["dates"][0] == dt.date(2025, 7, 1)


def _book_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))


@pytest.mark.parametrize("folder", BOOKS, ids=lambda p: p.name)
def test_shipped_and_sample_books_read_alike(folder: Path):
    files = _book_files(folder)
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert typed(safe_load(text)) == typed(pure(text)), path.name


def test_generated_variant_books_read_alike(tmp_path: Path):
    book = write_policies(generate_policies(120, seed=3), tmp_path / "variants", per_file=40)
    files = _book_files(book)
    assert len(files) >= 3
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert typed(safe_load(text)) == typed(pure(text)), path.name
