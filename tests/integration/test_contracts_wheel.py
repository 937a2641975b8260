"""The contracts package as partners get it: `uncops-contracts` builds as a wheel (as `make contracts-wheel`
does) that installs into a fresh virtual environment and carries the event models, the reference data, the
generated JSON Schemas and the AsyncAPI document.

No server; nothing is downloaded: the wheel is built with the setuptools of the test's environment
(--no-build-isolation) and installed with --no-index, and pydantic (its only dependency) is lent to the
fresh environment from this one through a .pth path entry.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pydantic
import pytest
import yaml

from uncops_contracts import EVENT_TYPES
from uncops_contracts.schemagen import DOCUMENT_VERSION

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check", "-q")
SCHEMA_FILES = sorted(
    str(p.relative_to(CONTRACTS / "schemas")) for p in (CONTRACTS / "schemas").rglob("*.json")
)

# Run by the fresh environment's interpreter: what a partner's `import uncops_contracts` finds.
PROBE = """
import importlib.metadata, importlib.resources, json, sys
import uncops_contracts
from uncops_contracts import EVENT_TYPES, documents, event_class

CHANGED = "cases/case_changed.v1.json"
package = importlib.resources.files("uncops_contracts")
schemas = package / "schemas"
domains = [d for d in schemas.iterdir() if d.is_dir()]
files = sorted(f"{domain.name}/{schema.name}" for domain in domains for schema in domain.iterdir())
print(json.dumps({
    "file": uncops_contracts.__file__,
    "version": importlib.metadata.version("uncops-contracts"),
    "requires": importlib.metadata.requires("uncops-contracts"),
    "types": sorted(t for t in EVENT_TYPES if event_class(t).event_type() == t),
    "schemas": files,
    "schema": json.loads((schemas / "pledges" / "pledge_submitted.v1.json").read_text()),
    "asyncapi": (package / "asyncapi.yaml").read_text(),
    "typed": (package / "py.typed").is_file(),
    "found": [str(d) for d in (documents.schemas(), documents.asyncapi(), documents.schema(CHANGED))],
    "data": sorted(p.name for p in (package / "data").iterdir()),
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("contracts-wheel")
    # Built from a copy: an in-tree build would leave build/ and *.egg-info beside the sources.
    source = work / "src"
    shutil.copytree(CONTRACTS, source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    dist = work / "dist"
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
        check=True,
        timeout=120,
    )
    (built,) = dist.glob("*.whl")
    return built


def test_the_wheel_is_named_by_the_package_version(wheel: Path) -> None:
    project = tomllib.loads((CONTRACTS / "pyproject.toml").read_text())["project"]

    assert project["version"] == DOCUMENT_VERSION
    assert wheel.name == f"uncops_contracts-{DOCUMENT_VERSION}-py3-none-any.whl"


def test_the_wheel_carries_the_schemas_and_the_asyncapi_document(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())

    assert {f"uncops_contracts/schemas/{path}" for path in SCHEMA_FILES} <= names
    assert {"uncops_contracts/asyncapi.yaml", "uncops_contracts/py.typed"} <= names
    assert {"uncops_contracts/data/member_states.csv", "uncops_contracts/data/missions.csv"} <= names
    # Only the package: not the generator script, nor the release records.
    assert not [n for n in names if n.startswith(("generate", "released", "schemas/", "setup"))]


def test_the_wheel_installs_into_a_fresh_environment(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    subprocess.run(
        [*PIP, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=120,
    )
    (site_packages,) = (venv / "lib").glob("python3.*/site-packages")
    # pydantic and its dependencies, lent from this environment (a path entry: its .pth hooks, among them
    # the editable uncops_contracts of the repository, are not run).
    (site_packages / "lent.pth").write_text(str(Path(pydantic.__file__).parent.parent) + "\n")

    probe = subprocess.run(
        [str(python), "-c", PROBE], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )

    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert Path(found["file"]).is_relative_to(site_packages), (
        "imported the repository's copy, not the wheel's"
    )
    assert found["version"] == DOCUMENT_VERSION
    assert found["requires"] == ["pydantic<3,>=2.7"]
    assert found["types"] == sorted(EVENT_TYPES)
    assert found["schemas"] == SCHEMA_FILES
    assert found["schema"] == json.loads((CONTRACTS / "schemas/pledges/pledge_submitted.v1.json").read_text())
    assert found["asyncapi"] == (CONTRACTS / "asyncapi.yaml").read_text()
    assert yaml.safe_load(found["asyncapi"])["info"]["version"] == DOCUMENT_VERSION
    assert found["typed"] and found["data"] == ["member_states.csv", "missions.csv"]
    # uncops_contracts.documents finds the wheel's copies (as the platform's image, which has no source tree).
    package = Path(found["file"]).parent
    assert found["found"] == [
        str(package / "schemas"),
        str(package / "asyncapi.yaml"),
        str(package / "schemas" / "cases" / "case_changed.v1.json"),
    ]
