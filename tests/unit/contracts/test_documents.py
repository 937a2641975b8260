"""The generated documents are found where the package is installed from (uncops_contracts.documents);
in the repository's editable install, the checked-in files (the wheel's own copy: test_contracts_wheel)."""

from __future__ import annotations

from pathlib import Path

from uncops_contracts import documents
from uncops_contracts.registry import EVENT_TYPES

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"


def test_in_the_repository_the_documents_are_the_checked_in_files() -> None:
    assert Path(str(documents.schemas())) == CONTRACTS / "schemas"
    assert documents.asyncapi().read_text() == (CONTRACTS / "asyncapi.yaml").read_text()


def test_every_event_has_its_schema() -> None:
    for cls in EVENT_TYPES.values():
        assert (
            documents.schema(cls.schema_path()).read_text()
            == (CONTRACTS / "schemas" / cls.schema_path()).read_text()
        )
    assert not documents.schema("cases/no_such_event.v1.json").is_file()
