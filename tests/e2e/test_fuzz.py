"""Schemathesis (pinned in requirements-dev.txt) against each running service as each role: no server
error, and every answer's status, media type and body as the OpenAPI document declares them, in the
examples, fuzzing and stateful phases (the stateful phase follows the document's links from each create,
services/common/links.py). Zero failures.

Seeded and bounded (``MAX_EXAMPLES`` per operation and phase), so a run is repeatable and takes a few
minutes; the fuzzer's case counts per run are printed (``-rP``) and kept in
``<run dir>/fuzz/<service>-<role>/report.json``. Marked ``fuzz``: the suite runs these last
(tests/conftest.py), as what they write (cases, summits, pledges with odd names) would upset tests that
count everything. Alone: ``pytest tests/e2e/test_fuzz.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import TEST_RUN_DIR, bearer, url

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
PHASES = "examples,fuzzing,stateful"
MAX_EXAMPLES = 20
SEED = 15
FOCAL_STATE = "SEN"

RUNS = [
    ("cases", Role.CONDUCT_OFFICER),
    ("cases", Role.STATE_FOCAL_POINT),
    ("cases", Role.ADMIN),
    ("pledges", Role.STATE_FOCAL_POINT),
    ("pledges", Role.PLANNER),
    ("pledges", Role.ADMIN),
    ("summit", Role.PLANNER),
    ("summit", Role.STATE_FOCAL_POINT),
    ("summit", Role.ADMIN),
    ("partners", Role.PARTNER),
    ("partners", Role.ADMIN),
]
# Operations that never answer in full: the partner gateway's live stream (Server-Sent Events) runs until the
# client leaves; tests/e2e/test_partner_gateway.py reads it.
ENDLESS = {"partners": ["/events/stream"]}


def schemathesis(service: str, token: str, report: Path) -> subprocess.CompletedProcess[str]:
    report.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        url(service, "/openapi.json"),
        "--header",
        f"Authorization: {token}",
        "--checks",
        CHECKS,
        "--phases",
        PHASES,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report / "report.json"),
        *(argument for path in ENDLESS.get(service, []) for argument in ("--exclude-path", path)),
    ]
    # In the report's folder: schemathesis reads a schemathesis.toml from where it runs, and there is none.
    return subprocess.run(argv, cwd=report, capture_output=True, text=True, timeout=540, check=False)


@pytest.mark.fuzz
@pytest.mark.parametrize(("service", "role"), RUNS, ids=[f"{service}-{role}" for service, role in RUNS])
def test_no_input_fails_a_check(platform: LocalStack, settings: Settings, service: str, role: Role) -> None:
    member_state = FOCAL_STATE if role == Role.STATE_FOCAL_POINT else None
    token = bearer(settings, role, member_state, subject=f"fuzz-{role}")["Authorization"]
    folder = TEST_RUN_DIR / "fuzz" / f"{service}-{role}"
    result = schemathesis(service, token, folder)
    output = result.stdout + result.stderr
    assert (folder / "report.json").exists(), output[-5000:]
    report = json.loads((folder / "report.json").read_text())
    cases = report["test_cases"]
    print(f"schemathesis {service} as {role}: {cases['generated']} cases, {report['operations']}")
    (folder / "counts.json").write_text(json.dumps({"service": service, "role": role, **cases}))
    failures = output[output.find("=== FAILURES ===") :] if report["failures"] else ""
    assert (report["failures"], report["errors"], result.returncode) == ([], [], 0), (
        failures or output[-5000:]
    )
    assert report["operations"]["tested"] == report["operations"]["selected"] > 0
