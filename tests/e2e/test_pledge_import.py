"""Bulk import of pledges over HTTP on the real stack: bad rows in both modes, JSON, duplicate flags,
idempotent replay, size limits, a focal point's scope, and the `uncops import-pledges` CLI in chunks."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from deploy.stack import REPO, LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from services.pledges.api.imports import import_limits
from services.pledges.gateway import workflow_id
from tests.conftest import bearer, url
from uncops_contracts.pledges import PledgeKind
from uncops_contracts.reference import member_states

NEXT_YEAR = str(datetime.now(UTC).date() + timedelta(days=366))
LAST_YEAR = str(datetime.now(UTC).date() - timedelta(days=366))


def a_summit() -> str:
    return f"IMP-{uuid.uuid4().hex[:10]}"


def tag() -> str:
    return uuid.uuid4().hex[:8]


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


async def import_(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    body: str | bytes | Any,
    mode: str,
    expect: int,
    content_type: str = "text/csv",
    key: str | None = None,
) -> httpx.Response:
    extra = {"Content-Type": content_type}
    if key:
        extra["Idempotency-Key"] = key
    content = body if isinstance(body, str | bytes) else json.dumps(body)
    response = await http.post(
        url("pledges", "/pledges/import"),
        params={"mode": mode},
        content=content,
        headers={**headers, **extra},
        timeout=120,
    )
    assert response.status_code == expect, response.text[:2000]
    return response


async def stored(
    http: httpx.AsyncClient, settings: Settings, summit: str, **filters: str
) -> list[dict[str, Any]]:
    """Every pledge of ``summit`` (following the pages)."""
    headers = bearer(settings, Role.PLANNER)
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"summit": summit, "limit": 500, **filters}
    while True:
        page = (await http.get(url("pledges", "/pledges"), params=params, headers=headers)).json()
        items += page["items"]
        if not page["next_cursor"]:
            return items
        params["cursor"] = page["next_cursor"]


SUMMIT_CSV_HEADER = [
    "member_state",
    "co_sponsors",
    "summit",
    "kind",
    "title",
    "text",
    "target_date",
    "amount",
    "currency",
]


def good_and_bad_rows(summit: str) -> str:
    t = tag()
    return csv_text(
        SUMMIT_CSV_HEADER,
        [
            # line 2-3: good, with a cell on two lines
            [
                "GHA",
                "",
                summit,
                "gender_parity",
                f"Women in FPUs {t}",
                "Two FPUs,\nby 2027",
                NEXT_YEAR,
                "",
                "",
            ],
            ["XXA", "", summit, "gender_parity", f"Unknown State {t}", "", NEXT_YEAR, "", ""],  # 4
            ["GHA", "", summit, "equipment_training", f"Late {t}", "", LAST_YEAR, "", ""],  # 5
            ["CHN", "", summit, "financial_support", f"Money {t}", "", NEXT_YEAR, "", ""],  # 6
            ["GHA", "", summit, "flying_cars", f"Bad kind {t}", "", NEXT_YEAR, "", ""],  # 7
            # 8: good, joint, financial
            ["CHN", "PAK; ETH", summit, "financial_support", f"Fund {t}", "", NEXT_YEAR, "250000", "USD"],
        ],
    )


EXPECTED_REJECTIONS = [(4, "member_state"), (5, "target_date"), (6, "amount"), (7, "kind")]


async def test_all_or_nothing_stores_nothing_when_a_row_is_bad(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    summit = a_summit()
    response = await import_(
        http, bearer(settings, Role.PLANNER), good_and_bad_rows(summit), "all_or_nothing", 422
    )

    report = response.json()
    assert (report["mode"], report["received"], report["accepted"]) == ("all_or_nothing", 6, 0)
    assert [(r["line"], r["field"]) for r in report["rejected"]] == EXPECTED_REJECTIONS
    assert "XXA is not a UN Member State" in report["rejected"][0]["reason"]
    assert report["pledge_ids"] == [] and "nothing was imported" in report["detail"]
    assert await stored(http, settings, summit) == []
    assert await stored(http, settings, summit, member_state="GHA") == []


async def test_accept_valid_stores_the_good_rows_and_reports_each_bad_one(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    summit = a_summit()
    planner = bearer(settings, Role.PLANNER, subject="import-planner")
    response = await import_(http, planner, good_and_bad_rows(summit), "accept_valid", 201)

    report = response.json()
    assert (report["received"], report["accepted"]) == (6, 2)
    assert [(r["line"], r["field"]) for r in report["rejected"]] == EXPECTED_REJECTIONS
    pledges = {p["id"]: p for p in await stored(http, settings, summit)}
    assert set(pledges) == set(report["pledge_ids"]) and len(pledges) == 2
    gha, chn = (pledges[pid] for pid in report["pledge_ids"])  # in the order of their lines
    assert (gha["member_state"], gha["kind"], gha["text"]) == ("GHA", "gender_parity", "Two FPUs,\nby 2027")
    assert (chn["co_sponsors"], chn["amount"], chn["currency"]) == (["PAK", "ETH"], "250000.00", "USD")
    assert gha["status"] == chn["status"] == "submitted"
    # No workflow per imported pledge: the first step starts the pledge's follow-up.
    temporal = await Client.connect(settings.temporal_address)
    with pytest.raises(RPCError) as not_started:
        await temporal.get_workflow_handle(workflow_id(gha["id"])).describe()
    assert not_started.value.status is RPCStatusCode.NOT_FOUND
    acknowledged = await http.post(
        url("pledges", f"/pledges/{gha['id']}/actions"), headers=planner, json={"action": "acknowledge"}
    )
    assert acknowledged.status_code == 200, acknowledged.text
    description = await temporal.get_workflow_handle(workflow_id(gha["id"])).describe()
    assert description.status is WorkflowExecutionStatus.RUNNING
    assert acknowledged.json()["status"] == "acknowledged"


async def test_a_dry_run_reports_the_rows_and_stores_nothing(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    summit = a_summit()
    planner = bearer(settings, Role.PLANNER)
    body = good_and_bad_rows(summit)
    for mode, accepted in (("accept_valid", 2), ("all_or_nothing", 0)):
        response = await http.post(
            url("pledges", "/pledges/import"),
            params={"mode": mode, "dry_run": "true"},
            content=body,
            headers={**planner, "Content-Type": "text/csv", "Idempotency-Key": f"dry-{summit}-{mode}"},
        )
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["received"], report["accepted"], report["pledge_ids"]) == (6, accepted, [])
        assert [(r["line"], r["field"]) for r in report["rejected"]] == EXPECTED_REJECTIONS
        assert "nothing was stored" in report["detail"]
    assert await stored(http, settings, summit) == []
    # The key of a dry run is not kept: the real import under it stores the rows.
    real = await import_(http, planner, body, "accept_valid", 201, key=f"dry-{summit}-accept_valid")
    assert real.json()["accepted"] == 2 and len(await stored(http, settings, summit)) == 2


async def test_a_file_saved_by_a_spreadsheet_with_a_bom_imports(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    summit = a_summit()
    body = "\ufeff" + csv_text(
        ["member_state", "summit", "kind", "title"],
        [["CIV", summit, "gender_parity", f"Femmes dans les unités de police constituées {tag()}"]],
    )
    response = await import_(http, bearer(settings, Role.PLANNER), body.encode(), "all_or_nothing", 201)
    assert response.json()["accepted"] == 1
    [pledge] = await stored(http, settings, summit)
    assert pledge["member_state"] == "CIV" and pledge["title"].startswith("Femmes dans les unités")


async def test_a_json_import(platform: LocalStack, settings: Settings, http: httpx.AsyncClient) -> None:
    summit, t = a_summit(), tag()
    pledges: list[dict[str, Any]] = [
        {
            "member_state": "SEN",
            "summit": summit,
            "kind": "french_speaking_officers",
            "title": f"Francophone officers {t}",
            "terms": {
                "indicator": "officers deployed",
                "target": 40,
                "unit": "officers",
                "target_date": NEXT_YEAR,
            },
        },
        {
            "member_state": "SEN",
            "summit": summit,
            "kind": "other",
            "title": f"Late {t}",
            "terms": {"target_date": LAST_YEAR},
        },
        {
            "member_state": "RWA",
            "summit": summit,
            "kind": "voluntary_compact",
            "title": f"Sign the Compact {t}",
        },
    ]
    planner = bearer(settings, Role.PLANNER)
    refused = await import_(http, planner, {"pledges": pledges}, "all_or_nothing", 422, "application/json")
    assert [(r["line"], r["field"]) for r in refused.json()["rejected"]] == [(2, "terms.target_date")]
    assert await stored(http, settings, summit) == []

    report = (await import_(http, planner, pledges, "accept_valid", 201, "application/json")).json()
    assert (report["received"], report["accepted"], len(report["rejected"])) == (3, 2, 1)
    senegal = next(p for p in await stored(http, settings, summit) if p["member_state"] == "SEN")
    assert (senegal["target"], senegal["unit"]) == ("40.0000", "officers")

    whole = (
        await import_(
            http, planner, [pledges[0] | {"title": f"Other {t}"}], "all_or_nothing", 201, "application/json"
        )
    ).json()
    assert whole["accepted"] == 1 and whole["rejected"] == []


async def test_duplicates_are_flagged_never_dropped(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    summit, t = a_summit(), tag()
    title = f"Deploy forty women officers to MINUSCA {t}"
    single = await http.post(
        url("pledges", "/pledges"),
        headers=bearer(settings, Role.STATE_FOCAL_POINT, "NPL"),
        json={"member_state": "NPL", "kind": "gender_parity", "title": title, "summit": summit},
    )
    assert single.status_code == 201, single.text
    first_id = single.json()["id"]
    body = csv_text(
        ["member_state", "summit", "kind", "title"],
        [
            ["NPL", summit, "gender_parity", title.upper()],  # 2: the stored one again
            ["NPL", summit, "gender_parity", f"Deploy forty women officers to MINUSCA. {t}"],  # 3: and line 2
            ["NPL", summit, "other", title],  # 4: another kind
            ["NPL", summit, "gender_parity", f"Train a formed police unit in French {t}"],  # 5
        ],
    )
    report = (await import_(http, bearer(settings, Role.PLANNER), body, "accept_valid", 201)).json()

    assert report["accepted"] == 4 and report["rejected"] == []
    ids = report["pledge_ids"]
    flags = {d["line"]: d for d in report["possible_duplicates"]}
    assert set(flags) == {2, 3}
    assert flags[2]["pledge_id"] == ids[0] and flags[2]["duplicate_of"] == [first_id]
    assert flags[3]["pledge_id"] == ids[1] and flags[3]["duplicate_of"] == [ids[0], first_id]
    assert len(await stored(http, settings, summit)) == 5
    planner = bearer(settings, Role.PLANNER)
    second = (await http.get(url("pledges", f"/pledges/{ids[1]}"), headers=planner)).json()
    assert second["possible_duplicate_of"] == [ids[0], first_id]


async def test_an_idempotency_key_replays_the_report_without_importing_twice(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    summit = a_summit()
    planner = bearer(settings, Role.PLANNER)
    body = good_and_bad_rows(summit)
    key = str(uuid.uuid4())
    first = await import_(http, planner, body, "accept_valid", 201, key=key)
    again = await import_(http, planner, body, "accept_valid", 201, key=key)

    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await stored(http, settings, summit)) == 2
    await import_(http, planner, body, "all_or_nothing", 409, key=key)  # same key, another request
    await import_(http, planner, body + "\n", "accept_valid", 409, key=key)
    # A State's focal point cannot replay the secretariat's import.
    await import_(http, bearer(settings, Role.STATE_FOCAL_POINT, "GHA"), body, "accept_valid", 409, key=key)

    # Two identical requests at once: one imports, the other replays its report.
    summit = a_summit()
    body, key = good_and_bad_rows(summit), str(uuid.uuid4())
    responses = await asyncio.gather(
        *(
            http.post(
                url("pledges", "/pledges/import"),
                params={"mode": "accept_valid"},
                content=body,
                headers={**planner, "Content-Type": "text/csv", "Idempotency-Key": key},
            )
            for _ in range(2)
        )
    )
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json()["pledge_ids"] == responses[1].json()["pledge_ids"]
    assert len(await stored(http, settings, summit)) == 2


async def test_an_oversized_import_is_refused(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER)
    limit = import_limits().max_bytes  # the servers run with the same environment as the tests
    line = b"GHA,other,An oversized import of pledges that nobody should ever send\n"
    big = b"member_state,kind,title\n" + line * (limit // len(line) + 1)
    declared = await import_(http, planner, big, "accept_valid", 413)
    assert f"larger than {limit} bytes" in declared.json()["detail"]

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: refused while reading
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    response = await http.post(
        url("pledges", "/pledges/import"),
        params={"mode": "accept_valid"},
        content=streamed(),
        headers={**planner, "Content-Type": "text/csv"},
        timeout=120,
    )
    assert response.status_code == 413, response.text

    max_rows = settings.pledge_policy.import_max_rows
    summit = a_summit()
    rows = [["GHA", summit, "other", f"Pledge number {i}"] for i in range(max_rows + 1)]
    too_many = await import_(
        http, planner, csv_text(["member_state", "summit", "kind", "title"], rows), "accept_valid", 422
    )
    assert too_many.json()["errors"][0]["field"] == "body"
    assert f"{max_rows + 1} pledges" in too_many.json()["errors"][0]["reason"]
    assert await stored(http, settings, summit) == []


async def test_the_file_itself_must_be_readable(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER)
    unknown = await import_(
        http, planner, "member_state,kind,title,colour\nGHA,other,Title,red\n", "accept_valid", 422
    )
    (error,) = unknown.json()["errors"]
    assert error["field"] == "columns" and "unknown column 'colour'" in error["reason"]
    await import_(http, planner, "{", "accept_valid", 422, "application/json")
    await import_(http, planner, "member_state,kind,title\n", "accept_valid", 422)
    await import_(http, planner, "x", "accept_valid", 415, "text/plain")
    await import_(http, planner, "member_state,kind,title\nGHA,other,Title\n", "sometimes", 422)
    await import_(http, bearer(settings, Role.PARTNER), "member_state,kind,title\n", "accept_valid", 403)


async def test_a_focal_point_imports_its_own_states_pledges_only(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    summit, t = a_summit(), tag()
    body = csv_text(
        ["member_state", "summit", "kind", "title"],
        [
            ["BGD", summit, "contingent_standards", f"Our FPU standards {t}"],
            ["IND", summit, "other", f"Theirs {t}"],
        ],
    )
    bangladesh = bearer(settings, Role.STATE_FOCAL_POINT, "BGD")
    refused = (await import_(http, bangladesh, body, "all_or_nothing", 422)).json()
    assert [(r["line"], r["field"], r["reason"]) for r in refused["rejected"]] == [
        (3, "member_state", "you import pledges of BGD only")
    ]
    assert await stored(http, settings, summit) == []

    report = (await import_(http, bangladesh, body, "accept_valid", 201)).json()
    assert report["accepted"] == 1 and [r["line"] for r in report["rejected"]] == [3]
    assert [p["member_state"] for p in await stored(http, settings, summit)] == ["BGD"]


def generated_csv(path: Path, summit: str, rows: int, bad: dict[int, list[str]]) -> None:
    """``rows`` pledges spread over the States and kinds, the lines in ``bad`` replaced."""
    states = sorted(member_states())
    kinds = [k.value for k in PledgeKind if k is not PledgeKind.FINANCIAL_SUPPORT]
    words = [
        "police",
        "women",
        "training",
        "units",
        "deploy",
        "formed",
        "command",
        "rapid",
        "vetting",
        "French",
    ]
    rng = random.Random(summit)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["member_state", "summit", "kind", "title", "indicator", "target", "unit", "target_date"]
        )
        for line in range(2, rows + 2):
            title = f"{' '.join(rng.sample(words, 4))} {uuid.uuid4().hex}"
            row = [
                states[line % len(states)],
                summit,
                kinds[line % len(kinds)],
                title,
                "officers",
                "10",
                "officers",
                NEXT_YEAR,
            ]
            writer.writerow(bad.get(line, row))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "uncops"), "import-pledges", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )


async def test_the_cli_imports_a_large_file_in_chunks(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    summit = a_summit()
    path = tmp_path / "pledges.csv"
    bad = {
        1500: ["XXA", summit, "other", "Unknown State", "", "", "", ""],
        2400: ["GHA", summit, "flying_cars", "Bad kind", "", "", "", ""],
    }
    generated_csv(path, summit, 2500, bad)
    service = url("pledges", "")

    done = await asyncio.to_thread(run_cli, str(path), "--url", service, "--chunk", "1000")

    assert done.returncode == 1, done.stderr
    assert "2500/2500 rows" in done.stderr and "1000/2500 rows" in done.stderr
    report = json.loads(done.stdout)
    assert (report["received"], report["accepted"]) == (2500, 2498)
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [(1500, "member_state"), (2400, "kind")]
    assert [c["lines"] for c in report["chunks"]] == ["2-1001", "1002-2001", "2002-2501"]
    assert len(report["pledge_ids"]) == len(set(report["pledge_ids"])) == 2498
    assert len(await stored(http, settings, summit)) == 2498

    # all_or_nothing in one request: the bad rows keep the whole file out; exit 1 again.
    again = await asyncio.to_thread(
        run_cli, str(path), "--url", service, "--chunk", "0", "--mode", "all_or_nothing"
    )
    assert again.returncode == 1, again.stderr
    assert json.loads(again.stdout)["accepted"] == 0
    assert len(await stored(http, settings, summit)) == 2498


async def test_the_cli_exit_codes_for_success_and_error(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    summit = a_summit()
    path = tmp_path / "pledges.json"
    path.write_text(
        json.dumps(
            [
                {"member_state": "FJI", "summit": summit, "kind": "other", "title": f"Pacific {tag()} {i}"}
                for i in range(3)
            ]
        )
    )
    service = url("pledges", "")
    key = str(uuid.uuid4())

    done = await asyncio.to_thread(
        run_cli, str(path), "--url", service, "--chunk", "2", "--idempotency-key", key
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["accepted"] == 3
    replayed = await asyncio.to_thread(
        run_cli, str(path), "--url", service, "--chunk", "2", "--idempotency-key", key
    )
    assert replayed.returncode == 0 and [c["replayed"] for c in json.loads(replayed.stdout)["chunks"]] == [
        True,
        True,
    ]
    assert len(await stored(http, settings, summit)) == 3

    unreachable = await asyncio.to_thread(run_cli, str(path), "--url", "http://127.0.0.1:9")
    assert unreachable.returncode == 2 and "import stopped" in unreachable.stderr
    refused = await asyncio.to_thread(run_cli, str(path), "--url", service, "--token", "not-a-token")
    assert refused.returncode == 2 and "HTTP 401" in refused.stderr
