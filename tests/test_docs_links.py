"""The documentation points only at things that exist.

Files move (``git mv``) and documents get renamed; a page that sends the reader to a missing file,
a heading that is gone, or a module that was moved is worse than no pointer. Checked here, with
no Docker and no imports of the package:

* every relative markdown link in ``README.md`` and ``docs/**/*.md`` resolves to a file or folder
  of the repository, and its ``#anchor``, if any, to a heading of the target page;
* every inline code span in those pages that names a repository path (``verifiers/math/extract.py``,
  ``tests/test_audit.py``, a glob such as ``verifiers/coq/*.py``) or a module of the package
  (``sppo_gym.verifiers.coq.theorems``, ``sppo_gym.sandbox.plaindata:encode``) names one that
  exists;
* no file of the repository refers to a document the repository does not hold: every
  ``docs/....md`` named anywhere exists, the contract and the threat model are
  ``docs/CONTRACT.md`` and ``docs/THREAT_MODEL.md``, and nothing may cite the specification
  files that once lived outside the repository (the sandbox, SPPO and style notes, or their
  shared folder; the names are spelled out in ``_FOREIGN_DOC`` below).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"envs", "verifiers", "trainer", "sandbox"}  # sppo_gym.<name> lives in <name>/
TOP_FOLDERS = PACKAGES | {"tests", "benchmarks", "scripts", "docs", ".ci"}
SCANNED_SUFFIXES = {".py", ".md", ".sh", ".toml", ".txt", ".yaml", ".yml", ".cfg"}

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_REPO_PATH = re.compile(r"^\.?[\w-]+(/[\w.*-]+)+/?$")
_MODULE = re.compile(r"^sppo_gym(\.\w+)+(:\w+)?$")
_FOREIGN_DOC = re.compile(r"\b(?:SANDBOX|SPPO|STYLE)\.md\b|shared/" + "docs")  # split: not a citation itself
_CONTRACT = re.compile(r"(?<![\w/.-])(?:[\w./-]*/)?CONTRACT\.md\b")
_CITED_HEADING = re.compile(r"(docs/[\w./-]+\.md)`?,\s*\"([^\"]+)\"")
_PRINCIPLE = re.compile(r"\bprinciples?\s+(\d+)(?:\s*(?:,|and)\s*(\d+))*")
_DOCS_PATH = re.compile(r"(?<![\w/.-])docs/[\w./-]*?\.md\b")


def rel(path: Path) -> str:
    """The path as shown in a failure: relative to the repository when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def doc_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def repo_files() -> list[Path]:
    """Tracked and untracked-but-not-ignored files (what a commit would hold)."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return [ROOT / p for p in out.splitlines() if (ROOT / p).is_file()]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """Numbered lines outside fenced code blocks (links and spans inside examples are not pointers)."""
    lines, fence = [], None
    for n, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if m and (fence is None or (m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence))):
            fence = None if fence else m.group(1)
            continue
        if fence is None:
            lines.append((n, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "").replace("*", "")  # code and emphasis marks
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose_lines(page.read_text()):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            k = seen.get(base, 0)
            seen[base] = k + 1
            out.add(base if k == 0 else f"{base}-{k}")
    return out


def dead_links(page: Path) -> list[str]:
    problems = []
    for n, line in prose_lines(page.read_text()):
        for m in _LINK.finditer(line):
            target = m.group(1) or m.group(2)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            where = f"{rel(page)}:{n}: {target}"
            if not dest.exists():
                problems.append(f"{where} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problems.append(f"{where} (no heading #{anchor} in {rel(dest)})")
    return problems


def module_exists(dotted: str) -> bool:
    """``sppo_gym.a.b[.attr][:name]`` names a module file of the repository (and the attribute or
    entry name appears in it), found without importing anything."""
    dotted, _, entry = dotted.partition(":")
    parts = dotted.split(".")[1:]
    if not parts or parts[0] not in PACKAGES:
        return False

    def module_file(names: list[str]) -> Path | None:
        base = ROOT.joinpath(*names)
        for cand in (base.with_suffix(".py"), base / "__init__.py"):
            if cand.is_file():
                return cand
        return None

    def defines(file: Path, name: str) -> bool:
        return re.search(rf"\b{re.escape(name)}\b", file.read_text()) is not None

    found = module_file(parts)
    if found is None:  # the last part may be an attribute of its module
        parent = module_file(parts[:-1]) if len(parts) > 1 else None
        if parent is None or not defines(parent, parts[-1]):
            return False
        found = parent
    return not entry or defines(found, entry)


def dead_paths(page: Path) -> list[str]:
    problems = []
    for n, line in prose_lines(page.read_text()):
        for m in _CODE_SPAN.finditer(line):
            span = m.group(2).strip()
            where = f"{rel(page)}:{n}: `{span}`"
            if _MODULE.match(span):
                if not module_exists(span):
                    problems.append(f"{where} (no such module or name in the package)")
            elif (_REPO_PATH.match(span) and span.split("/")[0] in TOP_FOLDERS
                  and not any(ROOT.glob(span.rstrip("/")))):
                problems.append(f"{where} (no such path in the repository)")
    return problems


def foreign_doc_references(files: list[Path]) -> list[str]:
    problems = []
    for f in files:
        if f.suffix not in SCANNED_SUFFIXES or f == Path(__file__).resolve():
            continue
        in_docs = f.parent == ROOT / "docs"
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            where = f"{rel(f)}:{n}"
            for m in _FOREIGN_DOC.finditer(line):
                problems.append(f"{where}: {m.group(0)} (not a document of this repository)")
            for m in _DOCS_PATH.finditer(line):
                if not (ROOT / m.group(0)).is_file():
                    problems.append(f"{where}: {m.group(0)} (no such document)")
            for m in _CONTRACT.finditer(line):
                ref = m.group(0)
                ok = ref in ("docs/CONTRACT.md", "../CONTRACT.md") or (in_docs and ref == "CONTRACT.md")
                if not ok:
                    problems.append(f"{where}: {ref} (the contract is docs/CONTRACT.md)")
    return problems


def principle_numbers() -> set[int]:
    """The numbers of the threat model's principles (``N. **...**`` items under "Principles")."""
    text = (ROOT / "docs/THREAT_MODEL.md").read_text()
    section = text.split("## Principles", 1)[1].split("\n## ", 1)[0]
    return {int(n) for n in re.findall(r"^(\d+)\. \*\*", section, re.MULTILINE)}


def bad_citations(files: list[Path]) -> list[str]:
    """``docs/X.md, "Heading"`` must name a heading of X (any case); "principle N" in a file that
    cites the threat model (or in the threat model itself) must be one of its principles."""
    principles = principle_numbers()
    problems = []
    for f in files:
        if f.suffix not in SCANNED_SUFFIXES or f == Path(__file__).resolve():
            continue
        text = f.read_text(errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            for m in _CITED_HEADING.finditer(line):
                doc = ROOT / m.group(1)
                if doc.is_file() and m.group(2).lower() not in {h.lower() for h in headings(doc)}:
                    problems.append(f"{rel(f)}:{n}: {m.group(1)}, \"{m.group(2)}\" (no such heading)")
            if "THREAT_MODEL.md" in text or f.name == "THREAT_MODEL.md":
                for m in _PRINCIPLE.finditer(line):
                    cited = {int(x) for x in re.findall(r"\d+", m.group(0))}
                    if not cited <= principles:
                        problems.append(f"{rel(f)}:{n}: {m.group(0)} (the threat model has principles "
                                        f"{min(principles)}-{max(principles)})")
    return problems


def headings(page: Path) -> list[str]:
    """Heading texts of a markdown page, code marks removed."""
    return [re.sub(r"^#{1,6}\s+|\s*#*\s*$", "", line).replace("`", "")
            for _, line in prose_lines(page.read_text()) if re.match(r"^#{1,6}\s", line)]


@pytest.mark.parametrize("page", doc_pages(), ids=rel)
def test_links_resolve(page: Path) -> None:
    assert dead_links(page) == []


@pytest.mark.parametrize("page", doc_pages(), ids=rel)
def test_named_paths_and_modules_exist(page: Path) -> None:
    assert dead_paths(page) == []


def test_no_reference_to_documents_outside_the_repository() -> None:
    assert foreign_doc_references(repo_files()) == []


def test_cited_sections_and_principles_exist() -> None:
    assert bad_citations(repo_files()) == []


def test_the_checks_see_what_they_should(tmp_path: Path) -> None:
    """The helpers flag a planted dead link, anchor, path and module, and accept live ones."""
    page = ROOT / "docs/CONTRACT.md"
    assert "verdicts" in anchors(page) and slug("`sppo-gym bench` throughput") == "sppo-gym-bench-throughput"
    assert slug("Sandbox API (host side, `sppo_gym.sandbox`)") == "sandbox-api-host-side-sppo_gymsandbox"
    assert module_exists("sppo_gym.sandbox.plaindata") and module_exists("sppo_gym.verifiers.score:Score")
    assert not module_exists("sppo_gym.verifiers.no_such_module")
    fake = tmp_path / "x.md"
    fake.write_text("# Title\n[a](missing.md) [b](#title) [c](#nowhere) `tests/no_such_test.py` `sppo_gym.envs.nowhere`\n"
                    "```\n[inside a fence](ignored.md)\n```\n")
    links = dead_links(fake)
    assert len(links) == 2 and "(no such file)" in links[0] and "(no heading #nowhere" in links[1]
    outside, contract = "SANDBOX" + ".md", "CONTRACT" + ".md"  # spelled in pieces: this file cites neither
    code = tmp_path / "mod.py"
    code.write_text(f'"""See {outside} principle 2 and {contract}; docs/NOPE.md."""\n# docs/{contract} is fine\n')
    found = foreign_doc_references([code])
    assert [f.split(": ", 1)[1].split(" (")[0] for f in found] == [outside, "docs/NOPE.md", contract]
    cites = tmp_path / "cites.py"
    cites.write_text('# docs/CONTRACT.md, "Verdicts"; docs/CONTRACT.md, "No such part"\n'
                     '# docs/THREAT_MODEL.md principles 2 and 99\n')
    assert [c.split(" (")[0] for c in bad_citations([cites])] == [
        'cites.py:1: docs/CONTRACT.md, "No such part"', "cites.py:2: principles 2 and 99"]
    problems = [p.split(" (")[0] for p in dead_paths(fake)]
    assert problems == ["x.md:2: `tests/no_such_test.py`", "x.md:2: `sppo_gym.envs.nowhere`"]
