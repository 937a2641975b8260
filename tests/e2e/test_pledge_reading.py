"""Reading pledges back on the real stack: the list's filters and keyset pagination, summaries, pledged versus
delivered for financial pledges (money recorded by the summit service), the CSV export, and the access matrix
of every pledges endpoint."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from services.pledges.store import title_values
from tests.conftest import bearer, eventually, url

NEXT_YEAR = datetime.now(UTC).date().replace(month=12, day=31) + timedelta(days=366)
EXPORT_HEADER = [
    "id",
    "member_state",
    "co_sponsors",
    "summit",
    "supports_summit",
    "kind",
    "title",
    "status",
    "traffic_light",
    "next_report_due",
    "missed_reports",
    "target_date",
    "indicator",
    "baseline",
    "target",
    "unit",
    "amount",
    "currency",
    "delivered",
    "possible_duplicate_of",
    "submitted_at",
    "version",
]
FORMULA_TITLE = '=HYPERLINK("http://example.org","click")'


def summit_id(prefix: str) -> str:
    return f"UNCOPS-{prefix}{uuid.uuid4().hex[:8]}"


def fp(settings: Settings, state: str) -> dict[str, str]:
    return bearer(settings, Role.STATE_FOCAL_POINT, state)


async def submit(http: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await http.post(url("pledges", "/pledges"), headers=headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def step(
    http: httpx.AsyncClient, headers: dict[str, str], pledge_id: str, action: str, **fields: Any
) -> dict[str, Any]:
    response = await http.post(
        url("pledges", f"/pledges/{pledge_id}/actions"), headers=headers, json={"action": action, **fields}
    )
    assert response.status_code == 200, (action, response.text)
    return dict(response.json())


async def get(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], expect: int = 200, **params: Any
) -> Any:
    response = await http.get(url("pledges", path), headers=headers, params=params)
    assert response.status_code == expect, (path, params, response.text)
    return response.json() if expect == 200 and not path.endswith(".csv") else response


async def listed_ids(http: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    """Every page of the list, following next_cursor."""
    ids: list[str] = []
    cursor = None
    for _ in range(100):
        page = await get(http, "/pledges", headers, **params, **({"cursor": cursor} if cursor else {}))
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("pagination never ended")


def parse_csv(response: httpx.Response) -> list[dict[str, str]]:
    # UTF-8 with a BOM, so that a spreadsheet reads accented names right.
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == EXPORT_HEADER
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@dataclass
class Dataset:
    summit: str
    ghana_gender: str  # GHA, accepted (green)
    ghana_equipment: str  # GHA, submitted
    kenya_joint: str  # KEN leads, GHA co-sponsors; acknowledged
    france_rejected: str  # FRA, rejected
    ghana_formula: str  # GHA, submitted, a title a spreadsheet would run as a formula

    @property
    def in_order(self) -> list[str]:
        """Oldest first: the order they were submitted in."""
        return [
            self.ghana_gender,
            self.ghana_equipment,
            self.kenya_joint,
            self.france_rejected,
            self.ghana_formula,
        ]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def dataset(platform: LocalStack, settings: Settings, http: httpx.AsyncClient) -> Dataset:
    summit = summit_id("R")
    planner = bearer(settings, Role.PLANNER)
    ghana, kenya, france = fp(settings, "GHA"), fp(settings, "KEN"), fp(settings, "FRA")
    gender = await submit(
        http,
        ghana,
        member_state="GHA",
        summit=summit,
        kind="gender_parity",
        title="Women in FPUs",
        terms={"indicator": "share of women", "target": "20", "unit": "%", "target_date": str(NEXT_YEAR)},
    )
    equipment = await submit(
        http, ghana, member_state="GHA", summit=summit, kind="equipment_training", title="Armoured vehicles"
    )
    joint = await submit(
        http,
        kenya,
        member_state="KEN",
        co_sponsors=["GHA"],
        summit=summit,
        kind="representative_accountable_police",
        title="Joint community policing training",
    )
    rejected = await submit(
        http, france, member_state="FRA", summit=summit, kind="french_speaking_officers", title="Formateurs"
    )
    formula = await submit(http, ghana, member_state="GHA", summit=summit, kind="other", title=FORMULA_TITLE)
    for action in ("acknowledge", "start_review", "accept"):
        await step(http, planner, gender["id"], action)
    await step(http, planner, joint["id"], "acknowledge")
    for action in ("acknowledge", "start_review"):
        await step(http, planner, rejected["id"], action)
    await step(http, planner, rejected["id"], "reject", reason="no French-speaking units available")
    return Dataset(summit, gender["id"], equipment["id"], joint["id"], rejected["id"], formula["id"])


# ---------------------------------------------------------------- filters and pagination


async def test_list_filters(settings: Settings, http: httpx.AsyncClient, dataset: Dataset) -> None:
    planner = bearer(settings, Role.PLANNER)
    s = dataset.summit

    async def ids(**params: Any) -> list[str]:
        return [p["id"] for p in (await get(http, "/pledges", planner, summit=s, **params))["items"]]

    assert await ids() == dataset.in_order[::-1]  # newest first by default
    assert await ids(kind="gender_parity") == [dataset.ghana_gender]
    assert await ids(member_state="GHA") == [
        dataset.ghana_formula,
        dataset.ghana_equipment,
        dataset.ghana_gender,
    ]
    assert await ids(member_state="GHA", kind="other") == [dataset.ghana_formula]
    assert await ids(status="accepted") == [dataset.ghana_gender]
    assert await ids(status="acknowledged") == [dataset.kenya_joint]
    assert await ids(status="rejected") == [dataset.france_rejected]
    assert await ids(status="submitted") == [dataset.ghana_formula, dataset.ghana_equipment]
    assert await ids(traffic_light="green") == [dataset.ghana_gender]
    assert await ids(traffic_light="red") == []
    assert await ids(overdue="true") == []
    assert await ids(overdue="false") == dataset.in_order[::-1]
    assert await ids(supports_summit=s) == []
    assert await ids(kind="gender_parity", status="submitted") == []
    # Every filtered item is what the filter asked for.
    page = await get(http, "/pledges", planner, summit=s, traffic_light="green")
    assert [(p["status"], p["traffic_light"]) for p in page["items"]] == [("accepted", "green")]

    # Bad values name their parameter.
    for param, value in (("kind", "world_peace"), ("status", "done"), ("traffic_light", "blue")):
        response = await http.get(url("pledges", "/pledges"), headers=planner, params={param: value})
        assert response.status_code == 422, (param, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [param]
    for params in ({"sort": "title"}, {"overdue": "maybe"}, {"member_state": "Ghana"}, {"limit": 0}):
        response = await http.get(url("pledges", "/pledges"), headers=planner, params=params)
        assert response.status_code == 422, (params, response.text)
    bad_cursor = await http.get(url("pledges", "/pledges"), headers=planner, params={"cursor": "yesterday|x"})
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["errors"][0]["field"] == "cursor"


async def test_focal_points_list_only_their_own_states_pledges(
    settings: Settings, http: httpx.AsyncClient, dataset: Dataset
) -> None:
    s = dataset.summit
    ghana = await listed_ids(http, fp(settings, "GHA"), summit=s, sort="submitted_at")
    assert ghana == [
        dataset.ghana_gender,
        dataset.ghana_equipment,
        dataset.kenya_joint,
        dataset.ghana_formula,
    ]
    assert await listed_ids(http, fp(settings, "KEN"), summit=s) == [dataset.kenya_joint]
    assert await listed_ids(http, fp(settings, "FRA"), summit=s) == [dataset.france_rejected]
    assert await listed_ids(http, fp(settings, "SEN"), summit=s) == []
    # Asking for another State's pledges narrows to those its own State co-sponsors, never beyond.
    assert await listed_ids(http, fp(settings, "GHA"), summit=s, member_state="KEN") == [dataset.kenya_joint]
    assert await listed_ids(http, fp(settings, "GHA"), summit=s, member_state="FRA") == []
    assert await listed_ids(http, fp(settings, "SEN"), summit=s, member_state="GHA") == []
    # Conduct officers and admins read every State's.
    for role in (Role.CONDUCT_OFFICER, Role.ADMIN):
        assert sorted(await listed_ids(http, bearer(settings, role), summit=s)) == sorted(dataset.in_order)


async def test_keyset_pagination_in_both_orders(
    settings: Settings, http: httpx.AsyncClient, dataset: Dataset
) -> None:
    planner = bearer(settings, Role.PLANNER)
    s = dataset.summit
    for limit in (1, 2, 3, 5, 6):
        assert await listed_ids(http, planner, summit=s, limit=limit) == dataset.in_order[::-1]
        assert await listed_ids(http, planner, summit=s, limit=limit, sort="submitted_at") == dataset.in_order
        assert (
            await listed_ids(http, planner, summit=s, limit=limit, sort="-submitted_at")
            == dataset.in_order[::-1]
        )
    first = await get(http, "/pledges", planner, summit=s, limit=2, sort="submitted_at")
    assert [p["id"] for p in first["items"]] == dataset.in_order[:2]
    assert first["next_cursor"] is not None
    second = await get(
        http, "/pledges", planner, summit=s, limit=2, sort="submitted_at", cursor=first["next_cursor"]
    )
    assert [p["id"] for p in second["items"]] == dataset.in_order[2:4]
    last = await get(http, "/pledges", planner, summit=s, limit=5)
    assert last["next_cursor"] is None
    # Pages with a filter stay within it.
    assert await listed_ids(http, planner, summit=s, limit=1, member_state="GHA", sort="submitted_at") == [
        dataset.ghana_gender,
        dataset.ghana_equipment,
        dataset.ghana_formula,
    ]


async def test_overdue_means_a_live_pledge_with_a_report_missed_or_past_due(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, pledges_db: AsyncEngine
) -> None:
    planner = bearer(settings, Role.PLANNER)
    china = fp(settings, "CHN")
    s = summit_id("O")
    ids = []
    for title in ("On time", "Past due", "Missed one", "Fulfilled after a miss"):
        pledge = await submit(http, china, member_state="CHN", summit=s, kind="other", title=title)
        for action in ("acknowledge", "start_review", "accept"):
            await step(http, planner, pledge["id"], action)
        ids.append(pledge["id"])
    on_time, past_due, missed, fulfilled = ids
    await step(http, planner, fulfilled, "confirm_fulfilment", evidence="secretariat verified it")
    # A year passing is the workflow test's business (time-skipping); here the rows are set as its timers
    # would leave them, and as they would read just before a timer fires.
    async with pledges_db.begin() as conn:
        await conn.execute(
            text("UPDATE pledge SET next_report_due = now() - interval '1 day' WHERE id = :id"),
            {"id": past_due},
        )
        await conn.execute(
            text("UPDATE pledge SET missed_reports = 1, traffic_light = 'red' WHERE id = :id"), {"id": missed}
        )
        # A fulfilled pledge keeps its count of missed reports; it is no longer followed up.
        await conn.execute(text("UPDATE pledge SET missed_reports = 1 WHERE id = :id"), {"id": fulfilled})

    async def listed(**params: Any) -> list[str]:
        return await listed_ids(http, planner, summit=s, sort="submitted_at", **params)

    assert await listed(overdue="true") == [past_due, missed]
    assert await listed(overdue="false") == [on_time, fulfilled]
    assert await listed(overdue="true", traffic_light="red") == [missed]
    assert await listed(traffic_light="green") == [on_time, past_due]
    assert await listed(status="fulfilled") == [fulfilled]
    assert await listed_ids(http, china, summit=s, overdue="true") == [missed, past_due]
    assert await listed_ids(http, fp(settings, "GHA"), summit=s, overdue="true") == []
    summary = await get(http, "/pledges/summary", planner, summit=s, overdue="true", by="traffic_light")
    assert {g["key"]: g["count"] for g in summary["groups"]} == {"green": 1, "red": 1}


# ---------------------------------------------------------------- summaries


def counts(summary: dict[str, Any]) -> dict[str | None, int]:
    return {g["key"]: g["count"] for g in summary["groups"]}


async def test_summaries_per_state_kind_status_and_traffic_light(
    settings: Settings, http: httpx.AsyncClient, dataset: Dataset
) -> None:
    planner = bearer(settings, Role.PLANNER)
    s = dataset.summit
    by_state = await get(http, "/pledges/summary", planner, summit=s, by="member_state")
    assert by_state["by"] == "member_state" and by_state["total"] == 5
    assert counts(by_state) == {"GHA": 3, "KEN": 1, "FRA": 1}
    # Largest group first, then by key.
    assert [(g["key"], g["count"]) for g in by_state["groups"]] == [("GHA", 3), ("FRA", 1), ("KEN", 1)]
    assert counts(await get(http, "/pledges/summary", planner, summit=s)) == counts(by_state)  # the default
    assert counts(await get(http, "/pledges/summary", planner, summit=s, by="kind")) == {
        "gender_parity": 1,
        "equipment_training": 1,
        "representative_accountable_police": 1,
        "french_speaking_officers": 1,
        "other": 1,
    }
    assert counts(await get(http, "/pledges/summary", planner, summit=s, by="status")) == {
        "accepted": 1,
        "submitted": 2,
        "acknowledged": 1,
        "rejected": 1,
    }
    assert counts(await get(http, "/pledges/summary", planner, summit=s, by="traffic_light")) == {
        "green": 1,
        None: 4,
    }
    assert counts(await get(http, "/pledges/summary", planner, summit=s, by="kind", member_state="GHA")) == {
        "gender_parity": 1,
        "equipment_training": 1,
        "other": 1,
    }
    conduct = await get(http, "/pledges/summary", bearer(settings, Role.CONDUCT_OFFICER), summit=s)
    assert counts(conduct) == counts(by_state)

    # A focal point counts its own State's pledges only (those it leads or co-sponsors, as in its list).
    ghana = await get(http, "/pledges/summary", fp(settings, "GHA"), summit=s, by="member_state")
    assert counts(ghana) == {"GHA": 3, "KEN": 1} and ghana["total"] == 4
    assert counts(await get(http, "/pledges/summary", fp(settings, "KEN"), summit=s)) == {"KEN": 1}
    france = await get(http, "/pledges/summary", fp(settings, "FRA"), summit=s, by="status")
    assert counts(france) == {"rejected": 1}
    nobody = await get(http, "/pledges/summary", fp(settings, "SEN"), summit=s)
    assert nobody == {"by": "member_state", "total": 0, "groups": []}

    wrong = await http.get(url("pledges", "/pledges/summary"), headers=planner, params={"by": "title"})
    assert wrong.status_code == 422
    wrong_kind = await http.get(url("pledges", "/pledges/summary"), headers=planner, params={"kind": "x"})
    assert wrong_kind.status_code == 422 and wrong_kind.json()["errors"][0]["field"] == "kind"


# ---------------------------------------------------------------- financial


async def test_financial_pledged_versus_delivered(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER)
    china, japan = fp(settings, "CHN"), fp(settings, "JPN")
    funded = summit_id("F")
    created = await http.post(
        url("summit", "/summits"),
        headers=planner,
        json={"id": funded, "name": "Funding summit", "starts_on": "2031-06-24", "ends_on": "2031-06-25"},
    )
    assert created.status_code == 201, created.text
    made_at = summit_id("M")

    async def financial(headers: dict[str, str], state: str, amount: str, currency: str, title: str) -> str:
        pledge = await submit(
            http,
            headers,
            member_state=state,
            summit=made_at,
            kind="financial_support",
            title=title,
            terms={"amount": amount, "currency": currency, "target_date": str(NEXT_YEAR)},
            supports_summit=funded,
        )
        return str(pledge["id"])

    chinese = await financial(china, "CHN", "300000.00", "USD", f"Support for {funded}")
    japanese = await financial(japan, "JPN", "50000.00", "EUR", f"Travel of delegates to {funded}")
    withdrawn = await financial(china, "CHN", "1000.00", "USD", "Catering")
    political = await submit(
        http, china, member_state="CHN", summit=made_at, kind="political_support", title="Host a side event"
    )
    for pledge_id in (chinese, japanese):
        for action in ("acknowledge", "start_review", "accept"):
            await step(http, planner, pledge_id, action)
    await step(http, china, withdrawn, "withdraw", reason="covered by the host country")
    receipt = await http.post(
        url("summit", f"/summits/{funded}/funding/receipts"),
        headers=planner,
        json={
            "member_state": "CHN",
            "pledge_id": chinese,
            "amount": "100000.00",
            "currency": "USD",
            "received_on": str(datetime.now(UTC).date()),
        },
    )
    assert receipt.status_code == 201, receipt.text

    async def delivered() -> Any:
        report = await get(http, "/pledges/financial", planner, supports_summit=funded)
        by_id = {p["id"]: p for p in report["pledges"]}
        return report if by_id[chinese]["delivered"] == {"USD": "100000.00"} else None

    report = await eventually(delivered, timeout=60)
    by_id = {p["id"]: p for p in report["pledges"]}
    assert set(by_id) == {chinese, japanese, withdrawn}  # financial pledges only, not the political one
    assert political["id"] not in by_id
    china_view = by_id[chinese]
    assert china_view["member_state"] == "CHN" and china_view["supports_summit"] == funded
    assert (china_view["pledged"], china_view["currency"]) == ("300000.00", "USD")
    assert china_view["delivered_in_currency"] == "100000.00"
    assert china_view["outstanding"] == "200000.00"
    assert china_view["status"] == "accepted"
    assert by_id[japanese]["delivered"] == {} and by_id[japanese]["outstanding"] == "50000.00"
    assert by_id[withdrawn]["status"] == "withdrawn"

    def amounts(totals: dict[str, Any]) -> dict[str, tuple[str, str, str, int]]:
        return {
            c: (str(t["pledged"]), str(t["delivered"]), str(t["outstanding"]), t["pledges"])
            for c, t in totals.items()
        }

    # The withdrawn pledge's amount no longer counts as pledged.
    expected = {"EUR": ("50000.00", "0", "50000.00", 1), "USD": ("300000.00", "100000.00", "200000.00", 1)}
    assert amounts(report["totals"]) == expected
    assert [s["supports_summit"] for s in report["by_summit"]] == [funded]
    assert amounts(report["by_summit"][0]["totals"]) == expected
    # The summit service's own figures agree on the money received.
    funding = (await http.get(url("summit", f"/summits/{funded}/funding"), headers=planner)).json()
    assert funding["currency"] == "USD" and Decimal(funding["received"]) == Decimal("100000")

    # A focal point sees its own State's financial pledges only.
    mine = await get(http, "/pledges/financial", china, supports_summit=funded)
    assert {p["id"] for p in mine["pledges"]} == {chinese, withdrawn}
    assert amounts(mine["totals"]) == {"USD": ("300000.00", "100000.00", "200000.00", 1)}
    theirs = await get(http, "/pledges/financial", japan, supports_summit=funded)
    assert [p["id"] for p in theirs["pledges"]] == [japanese]
    assert (await get(http, "/pledges/financial", fp(settings, "SEN"), supports_summit=funded)) == {
        "pledges": [],
        "totals": {},
        "by_summit": [],
    }
    by_summit_made = await get(http, "/pledges/financial", planner, summit=made_at, status="accepted")
    assert {p["id"] for p in by_summit_made["pledges"]} == {chinese, japanese}

    # Money reaching the amount fulfils the pledge; the report shows it.
    second = await http.post(
        url("summit", f"/summits/{funded}/funding/receipts"),
        headers=planner,
        json={
            "member_state": "CHN",
            "pledge_id": chinese,
            "amount": "200000.00",
            "currency": "USD",
            "received_on": str(datetime.now(UTC).date()),
        },
    )
    assert second.status_code == 201, second.text

    async def fulfilled() -> Any:
        report = await get(http, "/pledges/financial", planner, supports_summit=funded, member_state="CHN")
        view = {p["id"]: p for p in report["pledges"]}[chinese]
        return report if view["status"] == "fulfilled" else None

    done = await eventually(fulfilled, timeout=60)
    view = {p["id"]: p for p in done["pledges"]}[chinese]
    assert view["delivered"] == {"USD": "300000.00"} and view["outstanding"] == "0.00"
    assert amounts(done["totals"]) == {"USD": ("300000.00", "300000.00", "0.00", 1)}


# ---------------------------------------------------------------- CSV export


async def test_csv_export_is_the_list_as_csv(
    settings: Settings, http: httpx.AsyncClient, dataset: Dataset
) -> None:
    planner = bearer(settings, Role.PLANNER)
    s = dataset.summit
    response = await get(http, "/pledges/export.csv", planner, summit=s, sort="submitted_at")
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and 'filename="pledges-' in disposition
    assert disposition.endswith('.csv"')
    rows = parse_csv(response)
    assert [r["id"] for r in rows] == dataset.in_order
    listed = {p["id"]: p for p in (await get(http, "/pledges", planner, summit=s))["items"]}
    for row in rows:
        item = listed[row["id"]]
        for field in ("member_state", "summit", "kind", "status", "version"):
            assert row[field] == str(item[field]), (field, row, item)
        assert row["traffic_light"] == (item["traffic_light"] or "")
        assert row["co_sponsors"] == ";".join(item["co_sponsors"])
        assert datetime.fromisoformat(row["submitted_at"]) == datetime.fromisoformat(item["submitted_at"])
    by_id = {r["id"]: r for r in rows}
    gender = by_id[dataset.ghana_gender]
    assert (gender["indicator"], gender["unit"], gender["target_date"]) == (
        "share of women",
        "%",
        str(NEXT_YEAR),
    )
    assert gender["target"].startswith("20") and gender["traffic_light"] == "green"
    assert gender["next_report_due"] and gender["missed_reports"] == "0"
    assert by_id[dataset.kenya_joint]["co_sponsors"] == "GHA"
    # A title a spreadsheet would run as a formula is exported as text.
    assert by_id[dataset.ghana_formula]["title"] == "'" + FORMULA_TITLE

    newest_first = parse_csv(await get(http, "/pledges/export.csv", planner, summit=s))
    assert [r["id"] for r in newest_first] == dataset.in_order[::-1]
    filtered = parse_csv(await get(http, "/pledges/export.csv", planner, summit=s, status="submitted"))
    assert {r["id"] for r in filtered} == {dataset.ghana_equipment, dataset.ghana_formula}
    assert (
        parse_csv(await get(http, "/pledges/export.csv", planner, summit=s, kind="financial_support")) == []
    )
    bad = await http.get(
        url("pledges", "/pledges/export.csv"), headers=planner, params={"kind": "world_peace"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "kind"

    # A focal point exports its own State's pledges only.
    ghana = parse_csv(
        await get(http, "/pledges/export.csv", fp(settings, "GHA"), summit=s, sort="submitted_at")
    )
    assert [r["id"] for r in ghana] == [
        dataset.ghana_gender,
        dataset.ghana_equipment,
        dataset.kenya_joint,
        dataset.ghana_formula,
    ]
    kenya = parse_csv(await get(http, "/pledges/export.csv", fp(settings, "KEN"), summit=s))
    assert [r["id"] for r in kenya] == [dataset.kenya_joint]
    assert parse_csv(await get(http, "/pledges/export.csv", fp(settings, "SEN"), summit=s)) == []


async def test_csv_export_streams_many_rows(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, pledges_db: AsyncEngine
) -> None:
    """More rows than one streamed batch (500), every one exactly once, in order."""
    planner = bearer(settings, Role.PLANNER)
    s = summit_id("X")
    rows = [{"id": f"{s}-{i:04d}", "i": i, **title_values(f"Export row {i:04d}")} for i in range(1203)]
    async with pledges_db.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO pledge (id, member_state, co_sponsors, summit, kind, title, title_normal, "
                "text, status, submitted_by, submitted_at, version) "
                "VALUES (:id, 'BRA', '{}', :summit, 'other', :title, :title_normal, '', "
                "'submitted', 'test', now() - make_interval(secs => 2000 - :i), 1)"
            ),
            [{**row, "summit": s} for row in rows],
        )
    async with http.stream(
        "GET",
        url("pledges", "/pledges/export.csv"),
        headers=planner,
        params={"summit": s, "sort": "submitted_at"},
    ) as response:
        assert response.status_code == 200
        body = "".join([chunk async for chunk in response.aiter_text()])
    assert body.startswith("\ufeff")
    exported = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    assert [r["title"] for r in exported] == [f"Export row {i:04d}" for i in range(1203)]
    assert len({r["id"] for r in exported}) == 1203
    assert await listed_ids(http, planner, summit=s, limit=500, sort="submitted_at") == [
        r["id"] for r in exported
    ]


# ---------------------------------------------------------------- who may read and do what


async def test_access_matrix_of_every_pledges_endpoint(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    s = summit_id("A")
    roles: dict[str, dict[str, str]] = {
        "own": fp(settings, "GHA"),
        "other": fp(settings, "FRA"),
        "co_sponsor": fp(settings, "KEN"),
        "planner": bearer(settings, Role.PLANNER),
        "conduct_officer": bearer(settings, Role.CONDUCT_OFFICER),
        "partner": bearer(settings, Role.PARTNER),
        "admin": bearer(settings, Role.ADMIN),
        "none": {},
    }
    pledge = await submit(
        http,
        roles["own"],
        member_state="GHA",
        co_sponsors=["KEN"],
        summit=s,
        kind="financial_support",
        title="Joint support for the summit",
        terms={"amount": "1000.00", "currency": "USD"},
    )
    pid = pledge["id"]
    missing = str(uuid.uuid4())
    sees_it = {"own", "co_sponsor", "planner", "conduct_officer", "admin"}

    def expected(**codes: int) -> dict[str, int]:
        return {"partner": 403, "none": 401, **codes}

    reads = expected(own=200, other=200, co_sponsor=200, planner=200, conduct_officer=200, admin=200)
    matrix: list[tuple[str, str, dict[str, Any], dict[str, int]]] = [
        (
            "GET",
            f"/pledges/{pid}",
            {},
            expected(own=200, other=404, co_sponsor=200, planner=200, conduct_officer=200, admin=200),
        ),
        (
            "GET",
            f"/pledges/{missing}",
            {},
            expected(own=404, other=404, co_sponsor=404, planner=404, conduct_officer=404, admin=404),
        ),
        # Accepting a submitted pledge is nobody's step yet: 409 once past the access checks.
        (
            "POST",
            f"/pledges/{pid}/actions",
            {"json": {"action": "accept"}},
            expected(own=409, other=404, co_sponsor=403, planner=409, conduct_officer=409, admin=409),
        ),
        (
            "POST",
            f"/pledges/{missing}/actions",
            {"json": {"action": "acknowledge"}},
            expected(own=404, other=404, co_sponsor=404, planner=404, conduct_officer=404, admin=404),
        ),
        ("GET", "/pledges", {"params": {"summit": s}}, reads),
        ("GET", "/pledges/summary", {"params": {"summit": s}}, reads),
        ("GET", "/pledges/financial", {"params": {"summit": s}}, reads),
        ("GET", "/pledges/export.csv", {"params": {"summit": s}}, reads),
        (
            "POST",
            "/pledges",
            {"json": {"member_state": "GHA", "summit": summit_id("B"), "kind": "other", "title": "Matrix"}},
            expected(own=201, other=403, co_sponsor=403, planner=201, conduct_officer=403, admin=201),
        ),
    ]
    failures = []
    for method, path, kwargs, codes in matrix:
        for role, headers in roles.items():
            response = await http.request(method, url("pledges", path), headers=headers, **kwargs)
            if response.status_code != codes[role]:
                failures.append((method, path, role, codes[role], response.status_code, response.text[:200]))
                continue
            if response.status_code != 200:
                continue
            # What a reader may see of the pledge.
            if path == "/pledges":
                assert ([i["id"] for i in response.json()["items"]] == [pid]) is (role in sees_it), role
            elif path == "/pledges/summary":
                assert response.json()["total"] == (1 if role in sees_it else 0), role
            elif path == "/pledges/financial":
                assert [p["id"] for p in response.json()["pledges"]] == ([pid] if role in sees_it else []), (
                    role
                )
            elif path == "/pledges/export.csv":
                exported = [r["id"] for r in parse_csv(response)]
                assert exported == ([pid] if role in sees_it else []), role
    assert failures == []

    # The refusals say what the caller may do instead.
    async def refused(role: str) -> Any:
        response = await http.post(
            url("pledges", f"/pledges/{pid}/actions"), headers=roles[role], json={"action": "accept"}
        )
        return response.json()

    own = await refused("own")
    assert {name: own[name] for name in ("detail", "state", "allowed_actions")} == {
        "detail": "accept is not allowed on a submitted pledge for state_focal_point",
        "state": "submitted",
        "allowed_actions": ["edit", "withdraw"],
    }
    assert (await refused("planner"))["allowed_actions"] == ["acknowledge"]
    assert (await refused("conduct_officer"))["allowed_actions"] == []
    assert (await refused("admin"))["allowed_actions"] == ["acknowledge", "edit", "withdraw"]
    # The refused steps changed nothing.
    after = await get(http, f"/pledges/{pid}", roles["planner"])
    assert after["status"] == "submitted" and after["version"] == 1 and after["history"] == []

    # Every endpoint the service documents refuses a caller without a token, and a partner (who reads
    # events, not the pledges API).
    spec = (await http.get(url("pledges", "/openapi.json"))).json()
    endpoints = [
        (method.upper(), path.replace("{pledge_id}", pid))
        for path, operations in spec["paths"].items()
        if path.startswith("/pledges")
        for method in operations
    ]
    assert {p for _, p in endpoints} >= {
        "/pledges",
        f"/pledges/{pid}",
        f"/pledges/{pid}/actions",
        "/pledges/summary",
        "/pledges/financial",
        "/pledges/export.csv",
    }
    for method, path in endpoints:
        body: dict[str, Any] = {"json": {}} if method == "POST" else {}
        for role, code in (("none", 401), ("partner", 403)):
            response = await http.request(method, url("pledges", path), headers=roles[role], **body)
            assert response.status_code == code, (method, path, role, response.text)
    tampered = roles["planner"]["Authorization"][:-4] + "AAAA"
    response = await http.get(url("pledges", "/pledges/summary"), headers={"Authorization": tampered})
    assert response.status_code == 401
