"""The audit trail's hash chain (services/cases/domain/audit.py): a valid chain verifies, and every kind of
tampering (edited field, deleted or reordered entry, changed stored hash) is caught at its position."""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from services.cases.domain.audit import GENESIS, ChainLink, entry_hash, verify_chain

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def chain(length: int = 5) -> list[tuple[ChainLink, str]]:
    links: list[tuple[ChainLink, str]] = []
    previous = GENESIS
    for position in range(1, length + 1):
        link = ChainLink(
            case_id="case-1",
            position=position,
            at=T0 + timedelta(hours=position),
            actor=f"cdo-{position}",
            actor_role="conduct_officer",
            action=f"action_{position}",
            before={"status": f"s{position - 1}", "version": position},
            after={"status": f"s{position}", "items": [position, {"nested": "ok"}]},
            previous_hash=previous,
        )
        previous = entry_hash(link)
        links.append((link, previous))
    return links


def rehash(links: list[tuple[ChainLink, str]], index: int, **changes: Any) -> list[tuple[ChainLink, str]]:
    """Replaces the link at ``index`` with a changed copy, keeping its stored hash (a direct table edit)."""
    tampered = list(links)
    link, stored = tampered[index]
    tampered[index] = (dataclasses.replace(link, **changes), stored)
    return tampered


def test_a_chain_of_five_links_verifies() -> None:
    result = verify_chain(chain())
    assert result.valid
    assert result.entries == 5
    assert result.first_broken_position is None and result.reason is None


def test_an_empty_chain_verifies() -> None:
    result = verify_chain([])
    assert result.valid and result.entries == 0


def test_the_first_link_points_at_genesis_and_each_next_at_the_previous_hash() -> None:
    links = chain()
    assert links[0][0].previous_hash == GENESIS
    for (_, stored), (following, _) in itertools.pairwise(links):
        assert following.previous_hash == stored


def test_hash_is_deterministic_and_independent_of_dict_order_and_time_zone() -> None:
    link = chain(1)[0][0]
    same = dataclasses.replace(
        link,
        before=dict(reversed(list(link.before.items()))),
        at=link.at.astimezone(timezone(timedelta(hours=3))),
    )
    assert entry_hash(link) == entry_hash(same)
    assert len(entry_hash(link)) == 64


def test_rows_read_in_any_order_still_verify() -> None:
    links = chain()
    shuffled = list(links)
    random.Random(7).shuffle(shuffled)
    assert verify_chain(shuffled).valid
    assert verify_chain(reversed(links)).valid


CHANGES: dict[str, Any] = {
    "case_id": "case-2",
    "at": T0 + timedelta(days=30),
    "actor": "someone-else",
    "actor_role": "admin",
    "action": "close",
    "before": {"status": "forged"},
    "after": {"status": "s3", "items": [3, {"nested": "changed"}]},
}


@pytest.mark.parametrize("field", sorted(CHANGES))
@pytest.mark.parametrize("index", [0, 2, 4])
def test_changing_any_field_of_any_entry_is_detected_at_that_entry(field: str, index: int) -> None:
    result = verify_chain(rehash(chain(), index, **{field: CHANGES[field]}))
    assert not result.valid
    assert result.first_broken_position == index + 1
    assert result.reason == "the entry was changed after it was written"
    assert result.entries == 5


def test_changing_an_entry_and_recomputing_its_hash_breaks_the_next_link() -> None:
    links = chain()
    link, _ = links[2]
    forged = dataclasses.replace(link, actor="someone-else")
    links[2] = (forged, entry_hash(forged))
    result = verify_chain(links)
    assert not result.valid
    assert result.first_broken_position == 4
    assert result.reason == "the link to the previous entry is broken"


def test_changing_a_previous_hash_is_detected() -> None:
    result = verify_chain(rehash(chain(), 3, previous_hash="f" * 64))
    assert not result.valid
    assert result.first_broken_position == 4
    assert result.reason == "the link to the previous entry is broken"


@pytest.mark.parametrize("deleted", [1, 2, 3])
def test_deleting_a_middle_entry_is_detected_where_it_was(deleted: int) -> None:
    links = chain()
    del links[deleted]
    result = verify_chain(links)
    assert not result.valid
    assert result.first_broken_position == deleted + 1
    assert result.reason == "an entry is missing"
    assert result.entries == 4


def test_deleting_the_first_entry_is_detected_at_position_one() -> None:
    result = verify_chain(chain()[1:])
    assert not result.valid and result.first_broken_position == 1


def test_deleting_an_entry_and_renumbering_the_rest_is_detected() -> None:
    links = chain()
    del links[2]
    renumbered = [
        (dataclasses.replace(link, position=i), stored) for i, (link, stored) in enumerate(links, 1)
    ]
    result = verify_chain(renumbered)
    assert not result.valid
    assert result.first_broken_position == 3
    assert result.reason == "the link to the previous entry is broken"


def test_swapping_two_entries_positions_is_detected_at_the_first_swapped() -> None:
    links = chain()
    (second, second_hash), (third, third_hash) = links[1], links[2]
    links[1] = (dataclasses.replace(third, position=2), third_hash)
    links[2] = (dataclasses.replace(second, position=3), second_hash)
    result = verify_chain(links)
    assert not result.valid
    assert result.first_broken_position == 2


def test_a_duplicated_position_is_detected() -> None:
    links = chain()
    links.append(links[2])
    result = verify_chain(links)
    assert not result.valid
    assert result.first_broken_position == 4


@pytest.mark.parametrize("index", [0, 2, 4])
def test_changing_a_stored_hash_is_detected_at_that_entry(index: int) -> None:
    links = chain()
    link, stored = links[index]
    links[index] = (link, ("0" if stored[0] != "0" else "1") + stored[1:])
    result = verify_chain(links)
    assert not result.valid
    assert result.first_broken_position == index + 1
    assert result.reason == "the entry was changed after it was written"


def test_inserting_an_entry_is_detected() -> None:
    links = chain()
    link, _ = links[2]
    intruder = dataclasses.replace(link, position=3, action="forged")
    shifted = [(dataclasses.replace(lk, position=lk.position + 1), h) for lk, h in links[2:]]
    result = verify_chain([*links[:2], (intruder, entry_hash(intruder)), *shifted])
    assert not result.valid
    assert result.first_broken_position == 4
