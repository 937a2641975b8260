"""Where the generated documents are: the JSON Schemas and the AsyncAPI document, as files to read or serve.

Installed from the wheel they are inside the package (uncops_contracts/schemas/<domain>/<name>.v<N>.json,
uncops_contracts/asyncapi.yaml: contracts/setup.py copies them in at build time), which is also how the
platform's image has them; in the repository's editable install they are the checked-in
contracts/schemas/ and contracts/asyncapi.yaml beside the package.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

_BESIDE = Path(__file__).resolve().parent.parent


def _document(name: str) -> Traversable:
    packaged = files(__package__) / name
    return packaged if packaged.is_file() or packaged.is_dir() else _BESIDE / name


def schemas() -> Traversable:
    """The folder of every event's JSON Schema, by the path of its ce_dataschema under /contracts/schemas."""
    return _document("schemas")


def schema(path: str) -> Traversable:
    """One schema by its path under the schemas folder (``EventPayload.schema_path()``); it may not exist."""
    return schemas().joinpath(*path.split("/"))


def asyncapi() -> Traversable:
    """The AsyncAPI 3.0 document of every topic and event (YAML)."""
    return _document("asyncapi.yaml")
