"""The code's shape, as docs/architecture.md states it: every service laid out alike, dependencies one way
(workflows/<context> -> services/<context> -> services/common -> contracts), domain rules pure, every
workflow a service names registered by its worker and replay-tested from a recorded history."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio import workflow

from services.common.settings import CONSOLE, PARTNERS, SERVICES
from services.common.temporal import WorkflowType

REPO = Path(__file__).resolve().parents[2]
HISTORIES = REPO / "tests" / "workflows" / "histories"
# The one meaning of each name, in every service (docs/architecture.md, "Every service has one shape").
SERVICE_NAMES = {
    "__init__.py",
    "api",  # one router module per resource
    "domain.py",  # or domain/: the aggregate, its commands and rules, pure
    "domain",
    "service.py",  # the application layer: one function per use case, owning the transaction
    "service",  # or service/: one module per area, when a service has several (the console)
    "gateway.py",  # the only code that talks to Temporal for this context
    "store.py",  # writes
    "queries.py",  # reads
    "models.py",  # tables, named *Row
    "consumers.py",
    "app.py",  # wiring
    "migrations",
    "data",
    # the console's: its pages' rendering, templates, static files and message catalogues
    "pages.py",
    "templates",
    "static",
    "translations",
}
# What domain code must not load, not even through another module.
IMPURE = {"fastapi", "starlette", "sqlalchemy", "sqlmodel", "asyncpg", "temporalio", "aiokafka", "httpx"}


def python_files(folder: Path) -> Iterator[Path]:
    yield from (p for p in folder.rglob("*.py") if "migrations" not in p.parts)


def imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("context", [*SERVICES, CONSOLE, PARTNERS])
def test_a_service_never_imports_workflows(context: str) -> None:
    found = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in python_files(REPO / "services" / context)
        for module in imported_modules(path)
        if module == "workflows" or module.startswith("workflows.")
    ]
    assert found == []


def test_common_imports_no_service() -> None:
    found = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in python_files(REPO / "services" / "common")
        for module in imported_modules(path)
        if module.split(".")[0] in ("services", "workflows", "uncops")
        and not module.startswith("services.common")
    ]
    assert found == []


@pytest.mark.parametrize("context", [*SERVICES, CONSOLE, PARTNERS])
def test_a_service_has_the_shared_shape(context: str) -> None:
    folder = REPO / "services" / context
    names = {p.name for p in folder.iterdir() if p.name != "__pycache__"}
    assert names - SERVICE_NAMES == set(), "a name that no other service uses for its role"
    assert {"api", "app.py"} <= names
    # The partner gateway starts no workflow: no gateway.py (a service leaves out what it does not need).
    assert ("gateway.py" in names) == (context != PARTNERS)
    assert len(names & {"service.py", "service"}) == 1
    assert ("models.py" in names) == ("migrations" in names), "tables come with their migrations"
    assert len(names & {"domain.py", "domain"}) == 1
    assert all(p.suffix == ".py" for p in (folder / "api").iterdir() if p.name != "__pycache__")


@pytest.mark.parametrize("context", [*SERVICES, CONSOLE, PARTNERS])
def test_domain_rules_are_pure(context: str) -> None:
    modules = [
        ".".join(path.relative_to(REPO).with_suffix("").parts)
        for path in sorted((REPO / "services" / context).glob("domain*"))
        for path in ([path] if path.suffix == ".py" else sorted(path.rglob("*.py")))
    ]
    assert modules
    probe = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", probe], cwd=REPO, check=True, capture_output=True, text=True
        ).stdout
    )
    assert IMPURE & set(loaded) == set()


@pytest.mark.parametrize("context", [*SERVICES, PARTNERS])
def test_tables_are_named_row(context: str) -> None:
    models = __import__(f"services.{context}.models", fromlist=["*"])
    tables = [
        value.__name__
        for value in vars(models).values()
        if isinstance(value, type) and value.__module__ == models.__name__ and hasattr(value, "__table__")
    ]
    assert tables
    assert [name for name in tables if not name.endswith("Row")] == []


def registered(context: str) -> dict[str, workflow._Definition]:
    worker = __import__(f"workflows.{context}.worker", fromlist=["WORKFLOWS"])
    definitions = [workflow._Definition.must_from_class(cls) for cls in worker.WORKFLOWS]
    return {d.name: d for d in definitions if d.name is not None}


@pytest.mark.parametrize("context", SERVICES)
def test_every_workflow_a_gateway_names_is_registered(context: str) -> None:
    gateway = __import__(f"services.{context}.gateway", fromlist=["*"])
    named = [value for value in vars(gateway).values() if isinstance(value, WorkflowType)]
    assert named, "a gateway names the workflows it starts"
    definitions = registered(context)
    for kind in named:
        assert kind.service == context
        assert kind.name in definitions, f"{kind.name} is not registered by workflows/{context}/worker.py"
        definition = definitions[kind.name]
        assert set(kind.updates) <= set(definition.updates), f"{kind.name}: unknown Update"
        assert set(kind.queries) <= set(definition.queries), f"{kind.name}: unknown Query"


def recorded_types() -> set[str]:
    names = set()
    for path in HISTORIES.glob("*.json"):
        first = json.loads(path.read_text())["events"][0]
        names.add(first["workflowExecutionStartedEventAttributes"]["workflowType"]["name"])
    return names


@pytest.mark.parametrize("context", SERVICES)
def test_every_registered_workflow_has_a_recorded_history(context: str) -> None:
    assert set(registered(context)) - recorded_types() == set()


@pytest.mark.parametrize("needle", ["def actor_of(", ".terminate("])
def test_written_once(needle: str) -> None:
    places = [
        str(path.relative_to(REPO))
        for folder in ("services", "workflows")
        for path in python_files(REPO / folder)
        if needle in path.read_text()
    ]
    assert len(places) == 1, places
