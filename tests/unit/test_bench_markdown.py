"""How a partial benchmark run (``bench.run --only``) is merged into BENCHMARKS.md (bench/run.py)."""

from __future__ import annotations

from bench.run import merge_markdown

PREVIOUS = """# Benchmarks

Intro.

## Run

| date (UTC) | full run |

## Run of latency

| date (UTC) | latency alone |

## Run of pledges_intake, pledges_import

| date (UTC) | pledges |

## Run of summit_delegations, summit_agenda

| date (UTC) | summit |

## Results

| benchmark | result | goal | verdict |
|---|---|---|---|
| end-to-end event latency at 200/s | old latency | p99 < 100 ms | **FAIL** |
| pledges: intake vs bare endpoint | old intake | ratio >= 0.7 | **FAIL** |

## 2. End-to-end latency of a pledge submission

Old latency section.

## 6. Pledge intake against a bare endpoint (issue 4)

Old intake section.
"""

WRITTEN = """# Benchmarks

Intro.

## Run

| date (UTC) | this run |

## Results

| benchmark | result | goal | verdict |
|---|---|---|---|
| end-to-end event latency at 200/s | new latency | p99 < 100 ms | **PASS** |
| pledges: intake vs bare endpoint | new intake | ratio >= 0.7 | **PASS** |

## 2. End-to-end latency of a pledge submission

New latency section.

## 6. Pledge intake against a bare endpoint (issue 4)

New intake section.
"""


def test_a_run_replaces_its_sections_and_the_run_tables_no_section_cites_any_more() -> None:
    merged = merge_markdown(PREVIOUS, WRITTEN, ["latency", "pledges_intake", "pledges_import"])

    assert "## Run of latency, pledges_intake, pledges_import\n\n| date (UTC) | this run |" in merged
    # Every benchmark of these ran again: nothing cites them.
    assert "## Run of latency\n" not in merged
    assert "## Run of pledges_intake, pledges_import\n" not in merged
    # The full run and the summit run still back other sections.
    assert "| date (UTC) | full run |" in merged
    assert "## Run of summit_delegations, summit_agenda" in merged
    assert "new latency" in merged and "old latency" not in merged
    assert "New intake section." in merged and "Old intake section." not in merged


def test_a_run_of_some_of_a_run_tables_benchmarks_keeps_that_table() -> None:
    merged = merge_markdown(PREVIOUS, WRITTEN, ["pledges_intake"])

    assert "## Run of pledges_intake, pledges_import" in merged
    assert "## Run of pledges_intake\n" in merged
    assert "old latency" in merged and "new intake" in merged
