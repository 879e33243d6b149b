"""Code cites only documents inside the repository: a reader can follow every citation.

Section marks (``§``) pointed into specifications that are not in the repository; the
rules they named are written down in ``docs/`` (behaviour.md, architecture.md, adr/).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = [
    "domain",
    "application",
    "adapters",
    "entrypoints",
    "container",
    "alembic",
    "bench",
    "tests",
    "tools",
    "features",
]
SUFFIXES = {".py", ".feature", ".ini", ".toml", ".cfg", ".yml", ".yaml", ".mako"}
OUTSIDE = re.compile(
    "§"  # a section of some specification
    r"|\b(?:reference|product|upstream|spec)\s+(?:§|section\s+\d)"
    r"|product\.md|upstream-behaviour(?:\.md)?|shared/spec",
    re.IGNORECASE,
)
DOCS_CITATION = re.compile(r"\bdocs/[\w./-]*[\w/]")


def source_files() -> list[Path]:
    files = [ROOT / name for name in ("pyproject.toml", "alembic.ini")]
    for folder in FOLDERS:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in SUFFIXES]
    return sorted(p for p in files if p.is_file() and p != Path(__file__).resolve())


def test_no_source_file_cites_a_document_outside_the_repository():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in source_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_every_cited_docs_file_exists():
    docs = {str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md")}
    missing = [
        f"{path.relative_to(ROOT)}: {cited}"
        for path in source_files()
        for cited in DOCS_CITATION.findall(path.read_text(encoding="utf-8"))
        if not any(doc == cited or doc.startswith(cited + "-") for doc in docs)
    ]
    assert missing == []


def test_every_section_cited_in_behaviour_md_exists():
    headings = {
        line.removeprefix("## ").strip()
        for line in (ROOT / "docs" / "behaviour.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    }
    cited = re.compile(r'docs/behaviour\.md,?\s+"([^"]+)"')
    unknown = [
        f"{path.relative_to(ROOT)}: {section}"
        for path in source_files()
        for section in cited.findall(" ".join(path.read_text(encoding="utf-8").split()))
        if section not in headings
    ]
    assert unknown == []
