"""Text PostgreSQL can store: no NUL character (U+0000).

JSON, query strings and CSV can all carry a NUL, pydantic's ``str`` accepts it, and PostgreSQL refuses it in
``text`` and ``jsonb`` alike: left alone, it reached the database and the request failed with a 500. Every
service route refuses it first (services.common.app.Route), naming the field; models that also validate
data arriving otherwise (the rows of a pledge import) refuse it field by field with ``NoNul``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import AfterValidator

NUL_REASON = "may not contain the NUL character (U+0000)"


def without_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError(NUL_REASON)
    return value


NoNul = AfterValidator(without_nul)


def nul_locations(document: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Where a parsed JSON document holds a NUL: the path of each such string, or of each such key."""
    if isinstance(document, str):
        if "\x00" in document:
            yield path
    elif isinstance(document, dict):
        for key, value in document.items():
            if "\x00" in key:
                yield (*path, key)
            yield from nul_locations(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from nul_locations(value, (*path, index))
