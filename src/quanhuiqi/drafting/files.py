"""Drafting files and folders: one YAML per input, a report line per file, nothing lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from quanhuiqi.drafting.draft import Draft, _policy_id, draft_policy
from quanhuiqi.drafting.normalize import read_clause_file
from quanhuiqi.drafting.review import render_review_html
from quanhuiqi.tables.io import InputError, atomic_write


@dataclass
class FileResult:
    """One input file: ``status`` drafted | empty_draft | refused; ``out`` the YAML written (if any)."""

    path: str
    status: str
    message: str
    out: str | None = None
    atoms: int = 0
    todos: int = 0


@dataclass
class DraftRun:
    results: list[FileResult] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)
    html: str | None = None

    @property
    def ok(self) -> bool:
        return all(r.status != "refused" for r in self.results)

    def text(self) -> str:
        lines = [f"{r.status:11s} {r.path}: {r.message}" + (f" → {r.out}" if r.out else "") for r in self.results]
        n = {s: sum(r.status == s for r in self.results) for s in ("drafted", "empty_draft", "refused")}
        lines.append(f"{len(self.results)} file(s): {n['drafted']} drafted, {n['empty_draft']} without a "
                     f"recognised condition, {n['refused']} refused")
        return "\n".join(lines)


def clause_files(path: Path) -> list[Path]:
    """Every regular, non-hidden file of a folder (any name: a file that is not text is reported)."""
    return sorted(p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in
                                                                         p.relative_to(path).parts))


def draft_files(
    path: str | Path,
    out_dir: str | Path,
    *,
    html: str | Path | None = None,
    jurisdiction: str | None = None,
    department: str = "",
) -> DraftRun:
    """Draft one clause file or every file of a folder into ``out_dir/<stem>.yaml``.

    A file that cannot be read (binary, undecodable, empty) is reported and skipped; a clause
    with no recognised condition still gets a draft (an empty ``all`` and its todos), so the
    officer sees it; the run goes on to the next file either way."""
    src = Path(path)
    if not src.exists():
        raise InputError(f"{src}: no such file or folder")
    files = clause_files(src) if src.is_dir() else [src]
    if src.is_dir() and not files:
        raise InputError(f"{src}: the folder holds no file")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: --out must be a folder")
    run = DraftRun()
    stems: dict[str, str] = {}
    for f in files:
        stem = f.stem
        if stem in stems:
            run.results.append(FileResult(str(f), "refused", f"same name as {stems[stem]}: would overwrite "
                                                             f"{stem}.yaml"))
            continue
        try:
            text, enc = read_clause_file(f)
        except InputError as exc:
            run.results.append(FileResult(str(f), "refused", str(exc).removeprefix(f"{f}: ")))
            continue
        if not text.strip():
            run.results.append(FileResult(str(f), "refused", "empty file: no clause text"))
            continue
        stems[stem] = str(f)
        d = draft_policy(text, source=f.name, policy_id=_policy_id(stem, text), department=department, jurisdiction=jurisdiction)
        d.encoding = enc
        target = out / f"{stem}.yaml"
        atomic_write(target, lambda t, d=d: t.write_text(d.to_yaml(), encoding="utf-8"))
        run.drafts.append(d)
        status = "drafted" if d.atoms else "empty_draft"
        msg = d.summary().split(": ", 1)[1] + (f" (read as {enc})" if enc != "utf-8" else "")
        if not d.atoms:
            msg = "no condition recognised — " + msg
        run.results.append(FileResult(str(f), status, msg, str(target), len(d.atoms), len(d.todos)))
    if html is not None:
        page = render_review_html(run.drafts)
        atomic_write(Path(html), lambda t: t.write_text(page, encoding="utf-8"))
        run.html = str(html)
    return run
