"""Ties: exact equalities that decide a seat, returned as values, never broken silently.

When two or more lists have exactly the same claim (equal quotients, equal remainders) to the last
seat(s) of an allocation stage, the seat engine does not pick one. It first applies the tie-break the
law itself prescribes when there is one (``tie_break = more_votes_then_lot``: the list with more votes
first, as in Spain, France, Italy or Slovakia), and if the lists are still equal it returns a
:class:`Tie` naming the country, the constituency, the stage, the lists and the number of seats at
stake. The contested seats stay unallocated, and publication is blocked, until the lot drawn by the
competent authority is recorded and passed back as ``lots={tie.key: winner}`` (or a list of winners
when several seats are at stake); a re-run then resolves the tie deterministically.

:func:`pick_top` is the one selection primitive every method uses to give ``r`` seats to the ``r``
best claims, with the tie handling above.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from transforms.errors import AllocationError

TIE_BREAKS = ("lot", "more_votes_then_lot", "fewer_votes_then_lot")

Lots = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True)
class Where:
    """Where an allocation happens: country, constituency ('' = national) and stage."""

    country: str
    constituency: str = ""
    stage: str = "national"
    rule: str = ""

    def at(self, stage: str) -> Where:
        return Where(self.country, self.constituency, stage, self.rule)

    def error(self, message: str) -> AllocationError:
        return AllocationError(message, country=self.country, constituency=self.constituency,
                               rule=self.rule or self.stage)


@dataclass(frozen=True)
class Tie:
    """An exact tie for ``seats`` seat(s) between ``lists`` (sorted ids) in one allocation stage.

    In a distribution stage (``distribution <list>``: a list's seats shared among constituencies) the
    contenders are constituencies, and ``lists`` holds their names. When seats are taken back (excess
    whole quotas, deferred or held-back seats) the tie is stated in terms of the seats *kept*: the
    recorded winners are the lists that keep theirs.
    """

    country: str
    constituency: str
    stage: str
    lists: tuple[str, ...]
    seats: int
    first_seat: int
    criterion: str
    winners: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.country}|{self.constituency}|{self.stage}|{'+'.join(self.lists)}"

    @property
    def resolved(self) -> bool:
        return len(self.winners) == self.seats

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "country": self.country,
            "constituency": self.constituency,
            "stage": self.stage,
            "seat": self.first_seat,
            "seats": self.seats,
            "lists": list(self.lists),
            "criterion": self.criterion,
            "resolved": self.resolved,
            "winner": self.winners[0] if self.resolved and self.seats == 1 else None,
            "winners": list(self.winners),
        }


def _lot_winners(tie: Tie, lots: Lots | None) -> tuple[str, ...]:
    if not lots or tie.key not in lots:
        return ()
    recorded = lots[tie.key]
    winners = (recorded,) if isinstance(recorded, str) else tuple(recorded)
    if len(winners) != tie.seats or len(set(winners)) != len(winners) or not set(winners) <= set(tie.lists):
        raise AllocationError(
            f"recorded lot {recorded!r} for tie {tie.key!r} must name {tie.seats} distinct list(s) "
            f"among {', '.join(tie.lists)}", country=tie.country, constituency=tie.constituency,
            rule=tie.stage)
    return winners


def decide(where: Where, tied: Sequence[str], seats: int, *, votes: Mapping[str, int], tie_break: str,
           lots: Lots | None, first_seat: int, criterion: str, prefer_votes: str = "more",
           ) -> tuple[list[str], Tie | None, list[dict]]:
    """Choose ``seats`` of the equally placed ``tied`` lists: law's tie-break, then recorded lot.

    Returns (chosen lists, the Tie if a lot was or is needed, step-log entries). ``prefer_votes`` is
    ``"more"`` when the choice gives a seat, ``"fewer"`` when it takes one away (the list with fewer
    votes loses first).
    """
    if tie_break not in TIE_BREAKS:
        raise where.error(f"unknown tie_break {tie_break!r}")
    steps: list[dict] = []
    chosen: list[str] = []
    pool = list(tied)
    if seats <= 0:
        return [], None, steps
    if tie_break == "fewer_votes_then_lot":  # Portugal: the seat goes to the list with fewer votes
        prefer_votes = "fewer" if prefer_votes == "more" else "more"
    if tie_break in ("more_votes_then_lot", "fewer_votes_then_lot"):
        better = (lambda a, b: a > b) if prefer_votes == "more" else (lambda a, b: a < b)
        pool.sort(key=lambda i: votes[i], reverse=(prefer_votes == "more"))
        if len(pool) <= seats:
            return pool, None, steps
        edge = votes[pool[seats - 1]]
        sure = [i for i in pool if better(votes[i], edge)]
        same = [i for i in pool if votes[i] == edge]
        need = seats - len(sure)
        settled = len(same) == need
        chosen = sure + (same if settled else [])
        steps.append({"kind": "tie", "stage": where.stage, "constituency": where.constituency,
                      "lists": ",".join(sorted(tied)), "criterion": criterion,
                      "broken_by": f"{prefer_votes} votes (the law's tie-break)",
                      "chosen": ",".join(chosen), "still_tied": "" if settled else ",".join(sorted(same))})
        if settled:
            return chosen, None, steps
        seats = need
        first_seat += len(sure)
        pool = same
    tie = Tie(where.country, where.constituency, where.stage, tuple(sorted(pool)), seats, first_seat,
              criterion)
    winners = _lot_winners(tie, lots)
    if winners:
        tie = Tie(tie.country, tie.constituency, tie.stage, tie.lists, tie.seats, tie.first_seat,
                  tie.criterion, winners)
    steps.append({"kind": "tie", "stage": where.stage, "constituency": where.constituency,
                  "key": tie.key, "lists": ",".join(tie.lists), "seats": tie.seats,
                  "criterion": criterion, "resolved": "yes" if tie.resolved else "no",
                  "winners": ",".join(winners)})
    return chosen + list(winners), tie, steps


def pick_top(where: Where, ids: Sequence[str], key: Mapping[str, Hashable], r: int, *,
             votes: Mapping[str, int], tie_break: str, lots: Lots | None, first_seat: int,
             criterion: str, largest: bool = True, prefer_votes: str = "more",
             ) -> tuple[list[str], Tie | None, list[dict]]:
    """The ``r`` lists with the largest (or smallest) exact ``key``; an equality at the edge is a tie.

    Returns (chosen lists in rank order, Tie or None, steps). If a tie stays unresolved, only the
    lists sure to be chosen are returned (fewer than ``r``).
    """
    if r <= 0:
        return [], None, []
    order = sorted(ids, key=key.__getitem__, reverse=largest)  # stable: equal keys keep table order
    if r >= len(order):
        return list(order), None, []
    edge = key[order[r - 1]]
    if key[order[r]] != edge:
        return list(order[:r]), None, []
    sure = [i for i in order if (key[i] > edge if largest else key[i] < edge)]
    tied = [i for i in order if key[i] == edge]
    chosen, tie, steps = decide(where, tied, r - len(sure), votes=votes, tie_break=tie_break, lots=lots,
                                first_seat=first_seat + len(sure), criterion=criterion,
                                prefer_votes=prefer_votes)
    return sure + chosen, tie, steps
