"""The package layering of docs/architecture.md, enforced from the code's own imports.

Every module under ``src/quanhuiqi`` is parsed (not imported) and every ``import`` / ``from … import``
in it is collected — at module level and inside functions, where this code imports heavy or rarely
used parts lazily — so the graph is the one a reader sees.  A function-level import counts like a
module-level one, except on an edge the page marks ``(lazy)``, which only function-level imports may
use.  Between modules no circle is allowed at all, lazy imports included.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "quanhuiqi"
DOC = ROOT / "docs" / "architecture.md"
# the stages that run in production: none of them may read the synthetic city (the list, and
# everything they build on)
PRODUCT = ("rank", "postings", "push", "eligibility", "profile", "policy", "tables", "reference", "text",
           "registry", "numeric", "boosting", "version", "spark")


def module_files() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = module_files()


class _Imports(ast.NodeVisitor):
    """(target module, lazy, line) for every import of a ``quanhuiqi`` module in one file."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.module, self.is_package = module, is_package
        self.depth = 0
        self.found: list[tuple[str, bool, int]] = []

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _add(self, name: str, line: int) -> None:
        if name.split(".")[0] != "quanhuiqi":
            return
        while name not in MODULES and "." in name:  # ``from quanhuiqi.x import a_function``
            name = name.rsplit(".", 1)[0]
        self.found.append((name, self.depth > 0, line))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.split(".")
            base = base if self.is_package else base[:-1]
            base = base[: len(base) - (node.level - 1)]
            parent = ".".join(base + ([node.module] if node.module else []))
        else:
            parent = node.module or ""
        for alias in node.names:  # a submodule imported by name is an import of that submodule
            child = f"{parent}.{alias.name}"
            self._add(child if child in MODULES else parent, node.lineno)


def imports() -> list[tuple[str, str, bool, str]]:
    """(importing module, imported module, lazy, "file:line") for every import inside the package."""
    out = []
    for module, path in MODULES.items():
        visitor = _Imports(module, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        where = path.relative_to(ROOT).as_posix()
        out += [(module, target, lazy, f"{where}:{line}") for target, lazy, line in visitor.found if target != module]
    return out


IMPORTS = imports()


def package(module: str) -> str:
    """The node of the architecture a module belongs to: ``quanhuiqi.rank.features`` → ``rank``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def allowed_graph() -> dict[str, tuple[set[str], set[str]]]:
    """docs/architecture.md's table: package → (may import, may import lazily only)."""
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("| package | may import |"):].split("\n\n")[0]
    graph: dict[str, tuple[set[str], set[str]]] = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert len(cells) == 2, f"docs/architecture.md: malformed row {row!r}"
        name, targets = cells
        always, lazy = set(), set()
        for t in re.split(r",\s*", targets):
            if t in ("", "—"):
                continue
            if t.endswith("(lazy)"):
                lazy.add(t.removesuffix("(lazy)").strip())
            else:
                always.add(t)
        assert name not in graph, f"docs/architecture.md: {name} listed twice"
        graph[name] = (always, lazy)
    return graph


GRAPH = allowed_graph()


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found = []
    nodes = sorted(set(edges) | {t for ts in edges.values() for t in ts})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_the_product_never_imports_the_synthetic_city():
    bad = [f"{where}: {src} imports {dst}" for src, dst, _, where in IMPORTS
           if package(src) in PRODUCT and package(dst) == "synth"]
    assert not bad, "product code reads the synthetic city (evaluation belongs in quanhuiqi.synth.truth):\n" + \
        "\n".join(bad)


def test_no_import_circle_between_modules():
    edges: dict[str, set[str]] = defaultdict(set)
    for src, dst, _, _ in IMPORTS:
        edges[src].add(dst)
    assert cycles(edges) == []


def test_every_package_is_on_the_page():
    missing = sorted({package(m) for m in MODULES} - set(GRAPH))
    assert not missing, f"add {missing} to the table of docs/architecture.md (what may each import?)"
    unknown = sorted({t for always, lazy in GRAPH.values() for t in always | lazy} - set(GRAPH))
    assert not unknown, f"docs/architecture.md: {unknown} may be imported but have no row"


def test_package_imports_follow_the_page():
    bad = []
    for src, dst, lazy, where in IMPORTS:
        a, b = package(src), package(dst)
        if a == b:
            continue
        always, lazy_only = GRAPH.get(a, (set(), set()))
        if b in always or (lazy and b in lazy_only):
            continue
        how = "inside a function" if lazy else "at module level"
        bad.append(f"{where}: {src} imports {dst} {how}; docs/architecture.md does not let {a} import {b}"
                   + (" at module level" if b in lazy_only else ""))
    assert not bad, "\n".join(bad)


def test_the_page_is_layered():
    """Without its lazy-only edges the allowed graph has no circle (a layer imports only layers below)."""
    assert cycles({name: always for name, (always, _) in GRAPH.items()}) == []


@pytest.mark.parametrize("source", [
    "import quanhuiqi.synth\n",
    "from quanhuiqi import synth\n",
    "from ..synth import preference\n",
    "def f():\n    from quanhuiqi.synth.truth import PolicyTruth\n",
])
def test_the_walk_sees_every_form_of_import(source):
    """The walk finds absolute, relative and function-level imports (so the checks above can fail)."""
    visitor = _Imports("quanhuiqi.rank.features", is_package=False)
    visitor.visit(ast.parse(source))
    assert [package(t) for t, _, _ in visitor.found] == ["synth"]
    assert visitor.found[0][1] == source.startswith("def")


def test_the_cycle_finder_finds_circles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_test_modules_have_unique_basenames():
    """The suite runs in pytest's default import mode (rootdir-relative basenames, no packages): two test modules
    of one basename stop the whole collection on a clean clone — it has happened three times, caught here first."""
    tests = Path(__file__).resolve().parent
    seen: dict[str, list[str]] = {}
    for path in tests.rglob("test_*.py"):
        seen.setdefault(path.name, []).append(str(path.relative_to(tests)))
    assert {name: where for name, where in seen.items() if len(where) > 1} == {}
