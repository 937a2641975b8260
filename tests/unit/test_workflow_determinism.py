"""Workflows run unsandboxed (services/common/temporal.py, issue 19), so what Temporal's sandbox refused at
run time is refused here, before it runs: a workflow module's code never reads a clock, draws a random number
or an id, reads the environment, sleeps in the event loop's own time or does I/O. Time is ``workflow.now()``,
waiting is ``workflow.sleep`` / ``workflow.wait_condition``, and everything else is an activity."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from services.common.settings import SERVICES

# module -> names that may not be used from it (None: nothing from it at all)
FORBIDDEN: dict[str, frozenset[str] | None] = {
    "datetime": frozenset({"now", "utcnow", "today", "fromtimestamp"}),
    "date": frozenset({"today"}),
    "time": None,
    "random": None,
    "secrets": None,
    "uuid": frozenset({"uuid1", "uuid4"}),
    "os": None,
    "socket": None,
    "subprocess": None,
    "threading": None,
    "httpx": None,
    "asyncpg": None,
    "sqlalchemy": None,
    "aiokafka": None,
}
CALLS = frozenset({"open", "input", "print"})


def workflow_modules() -> list[Path]:
    paths: set[Path] = set()
    for context in SERVICES:
        for workflow in importlib.import_module(f"workflows.{context}.worker").WORKFLOWS:
            paths.add(Path(inspect.getfile(workflow)))
    return sorted(paths)


def offences(source: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                root = name.split(".")[0]
                if root in FORBIDDEN and FORBIDDEN[root] is None:
                    found.append(f"line {node.lineno}: imports {name}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            banned = FORBIDDEN.get(node.value.id, frozenset())
            if banned is None or node.attr in banned:
                found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Attribute) and node.attr in {"now", "utcnow", "today"}:
            found.append(f"line {node.lineno}: .{node.attr}()")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CALLS:
            found.append(f"line {node.lineno}: {node.func.id}()")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "sleep"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "asyncio"
        ):
            found.append(f"line {node.lineno}: asyncio.sleep (use workflow.sleep)")
    return found


@pytest.mark.parametrize("path", workflow_modules(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_workflow_module_is_deterministic(path: Path) -> None:
    assert offences(path.read_text()) == [], path


@pytest.mark.parametrize(
    "line",
    [
        "from datetime import datetime\nx = datetime.now()",
        "import time\n",
        "import uuid\nx = uuid.uuid4()",
        "import random\n",
        "x = open('f')",
        "import asyncio\nasync def f():\n    await asyncio.sleep(1)",
        "import os\n",
        "from sqlalchemy import text\n",
    ],
)
def test_the_check_finds_what_it_forbids(line: str) -> None:
    assert offences(line)


def test_the_check_allows_workflow_time() -> None:
    source = "from temporalio import workflow\nx = workflow.now()\nimport asyncio\nl = asyncio.Lock()"
    assert offences(source) == []
