"""The contracts package's version follows the compatibility rule (docs/operations.md, "Contracts workflow"):
patch = titles and descriptions only, minor = an allowed addition, major = anything that breaks a reader.

contracts/released/<version>.json records what each release promised; the version in contracts/pyproject.toml
(= DOCUMENT_VERSION) must be at least the latest earlier release raised by the bump its changes need.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import types
from pathlib import Path
from typing import Any

import pytest

from uncops_contracts.schemagen import DOCUMENT_VERSION, next_version, release_manifest, required_bump

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"
PLEDGE = "pledges/pledge_submitted.v1.json"


def _load_generate() -> types.ModuleType:
    # Loaded by path: contracts/generate.py is a dev script, not part of the installed package.
    spec = importlib.util.spec_from_file_location("contracts_generate_release", CONTRACTS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load_generate()


def test_the_version_covers_every_change_since_the_last_release() -> None:
    ok, verdict = generate.version_verdict()

    assert ok, verdict


def test_each_recorded_release_names_its_version() -> None:
    manifests = generate.released_manifests()

    assert manifests, "no release recorded in contracts/released/"
    for version, manifest in manifests.items():
        assert manifest["version"] == version
        assert generate.render_manifest(manifest) == (CONTRACTS / "released" / f"{version}.json").read_text()


# ---- the bump each kind of change needs


@pytest.fixture
def released() -> dict[str, Any]:
    return release_manifest()


@pytest.fixture
def current(released: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(released)


def test_no_change_needs_no_bump(released: dict[str, Any], current: dict[str, Any]) -> None:
    assert required_bump(released, current) == ("none", [])


def test_a_description_is_a_patch(released: dict[str, Any], current: dict[str, Any]) -> None:
    current["schemas"][PLEDGE]["description"] += " Clarified."
    current["schemas"][PLEDGE]["properties"]["title"]["title"] = "Heading"  # a property *named* title stays

    assert required_bump(released, current) == ("patch", [f"{PLEDGE}: titles or descriptions changed"])


def test_an_optional_property_is_a_minor(released: dict[str, Any], current: dict[str, Any]) -> None:
    current["schemas"][PLEDGE]["properties"]["note"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}

    assert required_bump(released, current) == ("minor", [f"{PLEDGE}: optional property note added"])


def test_an_enum_value_is_a_minor(released: dict[str, Any], current: dict[str, Any]) -> None:
    kind = current["schemas"][PLEDGE]["$defs"]["PledgeKind"]
    kind["enum"].append("moral_support")

    bump, changes = required_bump(released, current)

    assert bump == "minor"
    assert changes == [f'{PLEDGE}: PledgeKind: value(s) "moral_support" added']


def test_a_new_event_version_or_topic_is_a_minor(released: dict[str, Any], current: dict[str, Any]) -> None:
    current["schemas"]["pledges/pledge_submitted.v2.json"] = current["schemas"][PLEDGE]
    current["topics"]["uncops.partners.v1"] = {"restricted": False}

    bump, changes = required_bump(released, current)

    assert bump == "minor"
    assert sorted(changes) == [
        "pledges/pledge_submitted.v2.json: new event type or version",
        "topic uncops.partners.v1 added",
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: m["schemas"].pop(PLEDGE), f"{PLEDGE}: event version removed"),
        (lambda m: m["topics"].pop("uncops.summit.v1"), "topic uncops.summit.v1 removed"),
        (
            lambda m: m["topics"]["uncops.pledges.v1"].update(restricted=True),
            "topic uncops.pledges.v1 made restricted",
        ),
        (lambda m: m["schemas"][PLEDGE]["properties"].pop("title"), f"{PLEDGE}: title: property removed"),
        (
            lambda m: m["schemas"][PLEDGE]["required"].append("co_sponsors"),
            f"{PLEDGE}: co_sponsors: optional property made required",
        ),
    ],
    ids=["event-version-removed", "topic-removed", "topic-restricted", "property-removed", "made-required"],
)
def test_what_breaks_a_reader_is_a_major(
    released: dict[str, Any], current: dict[str, Any], change: Any, reason: str
) -> None:
    current["schemas"][PLEDGE]["description"] += " And a patch-level edit beside it."
    change(current)

    bump, changes = required_bump(released, current)

    assert bump == "major"
    assert reason in changes


@pytest.mark.parametrize(
    ("version", "bump", "expected"),
    [
        ("1.0.0", "none", "1.0.0"),
        ("1.0.3", "patch", "1.0.4"),
        ("1.2.3", "minor", "1.3.0"),
        ("1.2.3", "major", "2.0.0"),
    ],
)
def test_next_version(version: str, bump: str, expected: str) -> None:
    assert next_version(version, bump) == expected


# ---- the verdict `make contracts` prints, on a scratch folder of releases


@pytest.fixture
def releases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(generate, "RELEASED", tmp_path)
    monkeypatch.setattr(generate, "CONTRACTS", tmp_path.parent)
    return tmp_path


def _record(folder: Path, manifest: dict[str, Any]) -> None:
    (folder / f"{manifest['version']}.json").write_text(generate.render_manifest(manifest))


def test_an_unraised_version_is_refused_with_the_version_to_raise_to(
    releases: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Release 1.0.0 lacked an event the models have now: the same version is refused, 1.1.0 is asked for.
    older = release_manifest()
    older["version"] = "1.0.0"
    del older["schemas"][PLEDGE]
    _record(releases, older)
    monkeypatch.setattr(generate, "DOCUMENT_VERSION", "1.0.0")

    ok, verdict = generate.version_verdict()

    assert not ok
    assert "a minor change" in verdict and f"{PLEDGE}: new event type or version" in verdict
    assert "raise the version to 1.1.0" in verdict

    monkeypatch.setattr(generate, "DOCUMENT_VERSION", "1.1.0")
    assert generate.version_verdict()[0]
    monkeypatch.setattr(generate, "DOCUMENT_VERSION", "1.0.1")
    assert not generate.version_verdict()[0]


def test_a_breaking_change_needs_a_new_major(releases: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    older = release_manifest()
    older["version"] = "1.4.2"
    older["topics"]["uncops.retired.v1"] = {"restricted": False}
    _record(releases, older)
    monkeypatch.setattr(generate, "DOCUMENT_VERSION", "1.5.0")

    ok, verdict = generate.version_verdict()

    assert not ok and "topic uncops.retired.v1 removed" in verdict and "raise the version to 2.0.0" in verdict


def test_no_earlier_release_is_refused(releases: Path) -> None:
    ok, verdict = generate.version_verdict()

    assert not ok and f"no release recorded before {DOCUMENT_VERSION}" in verdict


def test_a_release_is_recorded_once_and_never_rewritten(
    releases: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generate, "DOCUMENT_VERSION", "9.9.9")
    monkeypatch.setattr(generate, "release_manifest", lambda: {**release_manifest(), "version": "9.9.9"})

    assert generate.release() == 0
    recorded = json.loads((releases / "9.9.9.json").read_text())
    assert recorded["version"] == "9.9.9" and recorded["schemas"] == release_manifest()["schemas"]
    assert generate.release() == 0  # the same contracts again: nothing to do
    (releases / "9.9.9.json").write_text(generate.render_manifest({**recorded, "topics": {}}))
    assert generate.release() == 2  # other contracts under a released version: refused
