"""Possible duplicates in plain Python: a pledge whose title is near-identical to another of the same State
and kind is flagged (never dropped), on a single submission as on an import.

``similar_titles`` is the rule; the rest makes it cheap on an import of thousands of rows: two bounds
(lengths, shared bigrams) and, in a large group, prefix filtering spare it the pairs that cannot match.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Indel

from services.pledges.domain.submission import PledgeSubmission

# Possible duplicates: the stored pledges of each State and kind compared with (the newest, on import as on
# a single submission: a State rarely makes more than a few pledges of one kind); the pledges a new one is
# checked against after the cheap filters (the newest first: the file's earlier rows, then the stored
# ones), so even a file of thousands of look-alike titles of one State and kind costs bounded time; the ids
# a flag lists (the newest). Up to SMALL_GROUP titles of one State and kind are compared pairwise, above
# that an index finds the candidates.
STORED_CANDIDATES = 100
CANDIDATES_PER_PLEDGE = 200
DUPLICATES_LISTED = 10
SMALL_GROUP = 64


def normal_title(title: str) -> str:
    """A title as similar_titles compares it: lower case, single spaces."""
    return " ".join(title.lower().split())


def title_grams(normal: str) -> list[str]:
    """The letter pairs of a normalised title as a set: the 2nd "po" is "po2", another token than the 1st,
    so the size of the intersection of two titles' sets is the number of pairs they share (as multisets)."""
    counts: dict[str, int] = {}
    grams: list[str] = []
    for gram in map(str.__add__, normal, normal[1:]):
        counts[gram] = counts.get(gram, 0) + 1
        grams.append(gram if counts[gram] == 1 else f"{gram}{counts[gram]}")
    return grams


def title_similarity(a: str, b: str) -> float:
    """How alike two normalised titles are: 2 LCS / (len(a) + len(b)), their longest common subsequence
    over both lengths, 1.0 for identical titles (the normalised indel similarity, RapidFuzz's ``ratio``)."""
    return float(Indel.normalized_similarity(a, b))


def is_similar(a: str, b: str, threshold: float) -> bool:
    """True when normalised titles ``a`` and ``b`` are at least ``threshold`` alike (title_similarity).

    Compared as whole numbers: a + b - 2 LCS, the characters to insert or delete to turn one into the
    other, must not exceed the threshold's share of a + b."""
    allowed = math.floor((1 - threshold) * (len(a) + len(b)) + 1e-9)
    return bool(Indel.distance(a, b, score_cutoff=allowed) <= allowed)


def similar_titles(title: str, others: list[tuple[str, str]], threshold: float) -> list[str]:
    """Ids of pledges whose title is near-identical to ``title`` (case and spacing ignored)."""
    wanted = normal_title(title)
    return [pledge_id for pledge_id, other in others if is_similar(wanted, normal_title(other), threshold)]


@dataclass(frozen=True)
class _Title:
    pledge_id: str
    title: str
    normal: str  # as similar_titles compares it: lower case, single spaces
    # Its bigrams as a set of numbers: the 2nd "po" is another token than the 1st (a multiset as a set).
    bigrams: frozenset[int]

    @classmethod
    def of(cls, pledge_id: str, title: str, vocabulary: dict[tuple[str, int], int]) -> _Title:
        normal = " ".join(title.lower().split())
        counts = Counter(map(str.__add__, normal, normal[1:]))
        tokens = [(gram, 1) for gram in counts]
        tokens += [(gram, n) for gram, count in counts.items() if count > 1 for n in range(2, count + 1)]
        return cls(
            pledge_id, title, normal, frozenset(vocabulary.setdefault(t, len(vocabulary)) for t in tokens)
        )


@lru_cache(maxsize=4096)
def min_shared_bigrams(a: int, b: int, threshold: float) -> int:
    """How many bigrams titles of ``a`` and ``b`` characters share, at least, if similar_titles finds them
    similar (their similarity 2M/T reaches ``threshold``, M their longest common subsequence, T = a + b);
    -1 if it cannot, because the similarity is at most 2 min(a, b)/T.

    M characters match in K blocks; a block of n characters holds n-1 shared bigrams and blocks are separated
    by unmatched characters, so K-1 <= T-2M and shared >= M-K >= 3M-T-1, with M >= threshold*T/2.
    """
    total = a + b
    if total == 0 or 2.0 * min(a, b) / total < threshold:
        return -1
    return max(0, 3 * math.ceil(threshold * total / 2 - 1e-9) - total - 1)


def fewest_shared_bigrams(length: int, threshold: float) -> int:
    """A lower bound of min_shared_bigrams for a title of ``length`` and any title that may be similar.

    shared >= (1.5 threshold - 1) T - 1 grows with T when threshold > 2/3 (below, it proves nothing), and T
    is at least ``length`` plus the shortest length the ratio allows."""
    if threshold <= 2 / 3:
        return 0
    total = length + math.floor(threshold * length / (2 - threshold))
    return max(0, math.floor((1.5 * threshold - 1) * total - 1 - 1e-9))


def _may_be_similar(a: _Title, b: _Title, threshold: float) -> bool:
    needed = min_shared_bigrams(len(a.normal), len(b.normal), threshold)
    return needed == 0 or (needed > 0 and len(a.bigrams & b.bigrams) >= needed)


def _similar_in_order(older: Sequence[_Title], mine: Sequence[_Title], threshold: float) -> list[list[str]]:
    """For each title of ``mine`` in order, the ids of the similar ones among ``older`` and its predecessors.

    Two cheap bounds (lengths, shared bigrams) spare similar_titles the pairs that cannot reach the
    threshold. In a large group, prefix filtering (as in set-similarity joins) finds the candidates: with
    tokens in one global order, rarest first, two titles sharing at least o bigrams share one in the first
    len-o+1 tokens of each, so each title indexes that prefix only and meets only the titles it may match.
    """
    titles = [*older, *mine]
    large = len(titles) > SMALL_GROUP
    index: dict[int, list[int]] = defaultdict(list)
    unfiltered: list[int] = []  # titles whose prefix proves nothing: candidates of every title
    prefixes: list[list[int] | None] = []
    if large:
        frequency = Counter(token for title in titles for token in title.bigrams)
        for title in titles:
            shared = fewest_shared_bigrams(len(title.normal), threshold)
            prefixes.append(
                sorted(title.bigrams, key=lambda t: (frequency[t], t))[: len(title.bigrams) - shared + 1]
                if shared > 0
                else None
            )

    def add(position: int) -> None:
        if not large:
            return
        prefix = prefixes[position]
        if prefix is None:
            unfiltered.append(position)
        for token in prefix or ():
            index[token].append(position)

    for position in range(len(older)):
        add(position)
    found: list[list[str]] = []
    for position in range(len(older), len(titles)):
        title = titles[position]
        prefix = prefixes[position] if large else None
        if prefix is None:
            candidates: Sequence[int] = range(position - 1, max(-1, position - 1 - CANDIDATES_PER_PLEDGE), -1)
        else:
            met = set(unfiltered[-CANDIDATES_PER_PLEDGE:])
            for token in prefix:
                met.update(index.get(token, [])[-CANDIDATES_PER_PLEDGE:])
            candidates = sorted(met, reverse=True)[:CANDIDATES_PER_PLEDGE]  # newest first
        plausible = [
            (titles[c].pledge_id, titles[c].title)
            for c in candidates
            if _may_be_similar(title, titles[c], threshold)
        ]
        similar: list[str] = []
        for start in range(0, len(plausible), DUPLICATES_LISTED):
            similar += similar_titles(title.title, plausible[start : start + DUPLICATES_LISTED], threshold)
            if len(similar) >= DUPLICATES_LISTED:
                break
        found.append(similar[:DUPLICATES_LISTED])
        add(position)
    return found


def flag_duplicates(
    new: Sequence[tuple[str, PledgeSubmission]],
    stored: dict[tuple[str, str], list[tuple[str, str]]],
    threshold: float,
) -> list[list[str]]:
    """For each new pledge (in order), the ids of possible duplicates: same State and kind, near-identical
    title (domain.similar_titles), among the file's earlier pledges and the stored ones (``stored``: id and
    title by (State, kind), newest first); newest first, DUPLICATES_LISTED at most."""
    positions: dict[tuple[str, str], list[int]] = defaultdict(list)
    for position, (_, submission) in enumerate(new):
        positions[(submission.member_state, submission.kind.value)].append(position)
    flags: list[list[str]] = [[] for _ in new]
    for group, members in positions.items():
        vocabulary: dict[tuple[str, int], int] = {}
        older = [_Title.of(*pledge, vocabulary) for pledge in reversed(stored.get(group, []))]
        mine = [_Title.of(new[p][0], new[p][1].title, vocabulary) for p in members]
        for position, similar in zip(members, _similar_in_order(older, mine, threshold), strict=True):
            flags[position] = similar
    return flags
