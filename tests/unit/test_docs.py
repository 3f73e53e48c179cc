"""README and docs/: every link and every file they name exists, every anchor is a heading of its page, and the README
stays a newcomer's first page (under 400 lines)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
# a path in backticks that names a file of this repository: `suites/smoke.toml`, `raylife/measure/stats.py`
NAMED_FILE = re.compile(r"`((?:raylife|suites|tests|benchmarks|docs|deploy|constraints|shared)/[\w./-]+\.(?:py|toml|md|yaml|sh|txt))`")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found, fenced = set(), False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            found.add(slug(line.lstrip("#")))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_and_named_file_exists(page):
    text = page.read_text()
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    for named in NAMED_FILE.findall(text):
        if not (REPO / named).exists():
            broken.append(named)
    assert broken == [], f"{page.name} names what does not exist: {broken}"


def test_the_readme_is_a_first_page():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) < 400
    top = "\n".join(lines[:60])
    for needed in ("make install && .venv/bin/raylife submit suites/smoke.toml", "make install && .venv/bin/pytest"):
        assert needed in top
