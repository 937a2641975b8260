"""The docs cannot drift from the code: the generated event catalogue, README's length, every relative
link and anchor, README's ports against the local stack's defaults, README's make targets against the
Makefile, and every topic and event type the prose names against the contracts."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.stack import Ports
from services.common.settings import Settings
from uncops_contracts.registry import EVENT_TYPES
from uncops_contracts.topics import TOPICS

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
GENERATOR = REPO / "docs" / "generate.py"
PAGES = sorted([README, *(REPO / "docs").rglob("*.md")])

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def prose(text: str) -> str:
    """The page without code blocks and inline code, where brackets are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor GitHub makes for the page's headings; a repeated heading gets -1, -2, ..."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path) -> list[str]:
    problems = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            problems.append(f"{page.relative_to(REPO)}: {target}: no such file")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            problems.append(f"{page.relative_to(REPO)}: {target}: no heading with that anchor")
    return problems


def run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args], capture_output=True, text=True, cwd=REPO, check=False
    )


def test_event_catalogue_is_up_to_date() -> None:
    result = run_generator("--check")
    assert result.returncode == 0, result.stderr


def test_check_fails_on_a_stale_catalogue(tmp_path: Path) -> None:
    page = tmp_path / "events.md"
    # A catalogue that lost one event, as a hand edit or a new event without regenerating would leave it.
    page.write_text((REPO / "docs" / "events.md").read_text().replace("pledge_withdrawn", "pledge_gone"))
    assert run_generator("--check", "--file", str(page)).returncode == 1
    assert run_generator("--file", str(page)).returncode == 0
    assert run_generator("--check", "--file", str(page)).returncode == 0


def test_readme_is_short() -> None:
    assert len(README.read_text().splitlines()) <= 150


def test_slug_is_githubs() -> None:
    assert slug("`funding_received` (v1)") == "funding_received-v1"
    assert slug("Victims' data key") == "victims-data-key"
    assert slug("Tour: pledges") == "tour-pledges"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_and_anchors_exist(page: Path) -> None:
    assert broken_links(page) == []


def test_readme_ports_are_the_stacks() -> None:
    text = README.read_text()
    section = text[text.index("### What each port serves") :]
    table = section[: section.index("\n\n", section.index("| port |"))]
    rows = re.findall(r"^\| (\d+) \|.*\| `([A-Z0-9_]+)` \|$", table, re.M)  # S3_PORT: a digit too
    documented = {variable: int(port) for port, variable in rows}
    defaults = Ports()
    assert documented == {variable: getattr(defaults, name) for name, variable in Ports.ENV.items()}
    # The services read the same variables (pydantic-settings: the field name in upper case).
    for variable, port in documented.items():
        field = Settings.model_fields.get(variable.lower())
        if field is not None:
            assert field.default == port, variable


def test_readme_make_targets_exist() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), re.MULTILINE))
    # Headings left out: "## Other make targets" names none.
    text = re.sub(r"^#.*$", "", README.read_text(), flags=re.MULTILINE)
    mentioned = set(re.findall(r"\bmake ([a-z][a-z-]*)", text))
    assert mentioned, "README names no make target"
    assert mentioned - targets == set()


def test_docs_name_only_known_topics_and_event_types() -> None:
    topics = set(TOPICS) | {t.dlq for t in TOPICS.values()}
    for page in PAGES:
        text = page.read_text()
        named_topics = set(re.findall(r"\buncops\.[a-z.]+\.v\d+(?:\.dlq)?\b", text))
        assert named_topics - topics == set(), page.name
        named_types = set(re.findall(r"\borg\.un\.uncops\.[a-z_]+\.[a-z_]+\.v\d+\b", text))
        assert named_types - set(EVENT_TYPES) == set(), page.name


# A path the docs name in code spans: a file or folder of the repository (``<ctx>`` stands for each context).
REPO_PATH = re.compile(
    r"(?<![\w./-])((?:services|workflows|deploy|uncops|bench|tests|contracts|docs)/[\w./<>-]*)"
)
CONTEXTS = ("cases", "pledges", "summit")


def named_paths(page: Path) -> Iterator[str]:
    text = page.read_text()
    for code in [m.group(0) for m in FENCE.finditer(text)] + INLINE_CODE.findall(text):
        yield from (m.rstrip(".,") for m in REPO_PATH.findall(code))


def missing_paths(page: Path) -> list[str]:
    missing = []
    for named in named_paths(page):
        candidates = [named.replace("<ctx>", c) for c in CONTEXTS] if "<ctx>" in named else [named]
        if "<" in named.replace("<ctx>", "") or "*" in named:
            continue  # a pattern, not a path
        if not all((REPO / candidate).exists() for candidate in candidates):
            missing.append(named)
    return sorted(set(missing))


# Decision records are history: they name the files of their day.
@pytest.mark.parametrize(
    "page", [p for p in PAGES if "decisions" not in p.parts], ids=lambda p: str(p.relative_to(REPO))
)
def test_docs_name_only_files_that_exist(page: Path) -> None:
    assert missing_paths(page) == []
