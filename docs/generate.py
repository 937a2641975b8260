"""Write the event catalogue in docs/events.md from the uncops_contracts package (`make docs`).

The topics (topics.py) and the event types on each (registry.py, with each model's ClassVars) are listed
once, in the contracts; this script copies them into the block of docs/events.md between the two marker
comments, so the page cannot list a topic or an event the contracts lack, or miss one they have. The
prose around the block is written by hand and left alone. `--check` writes nothing and exits 1 when the
block is out of date (a test and `make lint` run it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from uncops_contracts.envelope import EventPayload
from uncops_contracts.registry import EVENT_TYPES
from uncops_contracts.topics import TOPICS, Topic

REPO = Path(__file__).resolve().parent.parent
EVENTS_MD = REPO / "docs" / "events.md"
BEGIN = "<!-- generated: events catalogue -->"
END = "<!-- end generated -->"


def description(cls: type[EventPayload]) -> str:
    """What the event means: its ``description`` ClassVar, else its docstring (as the JSON Schema says it)."""
    text = cls.description or (cls.__doc__ or "")
    return " ".join(text.split())


def producer(cls: type[EventPayload]) -> str:
    """The service that publishes the event: its ``ce_source`` is ``/uncops/<service>``."""
    return cls.source.removeprefix("/uncops/")


def events_on(topic: Topic) -> list[type[EventPayload]]:
    return [cls for cls in EVENT_TYPES.values() if cls.topic == topic.name]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_catalogue() -> str:
    """The generated block: the text between the two markers."""
    unknown = sorted({cls.topic for cls in EVENT_TYPES.values()} - set(TOPICS))
    if unknown:
        # An event on a topic topics.py does not declare would be left out of the page without a word.
        raise ValueError(f"events on topics missing from uncops_contracts.topics: {', '.join(unknown)}")
    lines = [
        "<!-- Written by docs/generate.py from uncops_contracts (topics.py, registry.py):",
        "     edit the contracts, then run `python docs/generate.py`. -->",
        "",
        "| topic | producer | partner-facing | dead-letter topic | events | what |",
        "|---|---|---|---|---|---|",
    ]
    for topic in TOPICS.values():
        partner = "no, restricted" if topic.restricted else "yes"
        lines.append(
            f"| `{topic.name}` | {topic.producer} | {partner} | `{topic.dlq}` | {len(events_on(topic))} "
            f"| {_cell(topic.description)} |"
        )
    for topic in TOPICS.values():
        lines += [
            "",
            f"### `{topic.name}`",
            "",
            "| `ce_type` | version | producer | schema | model | description |",
            "|---|---|---|---|---|---|",
        ]
        for cls in events_on(topic):
            # A link, so the docs' link check also finds a schema file that is missing.
            schema = f"[{cls.schema_path()}](../contracts/schemas/{cls.schema_path()})"
            lines.append(
                f"| `{cls.event_type()}` | {cls.version} | {producer(cls)} | {schema} "
                f"| `{cls.__module__}.{cls.__qualname__}` | {_cell(description(cls))} |"
            )
    # A blank line before the end marker, so Markdown ends the last table there.
    return "\n".join(lines) + "\n\n"


def updated(text: str, catalogue: str) -> str:
    """``text`` with the block between the markers replaced by ``catalogue``."""
    head, begin, rest = text.partition(BEGIN + "\n")
    _old, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the page needs the markers {BEGIN!r} and {END!r}, in that order, each on its line")
    return f"{head}{BEGIN}\n{catalogue}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the page is out of date"
    )
    parser.add_argument("--file", type=Path, default=EVENTS_MD, help="the page (default docs/events.md)")
    args = parser.parse_args(argv)

    text = args.file.read_text()
    try:
        new = updated(text, render_catalogue())
    except ValueError as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 2
    if new == text:
        print(f"{args.file.name}: event catalogue up to date")
        return 0
    if args.check:
        print(f"{args.file}: event catalogue out of date: run `python docs/generate.py`", file=sys.stderr)
        return 1
    args.file.write_text(new)
    print(f"wrote the event catalogue in {args.file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
