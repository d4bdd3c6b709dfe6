"""Property tests (hypothesis): totals, thresholds, monotonicity, and ties that must surface."""
from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from transforms import dhondt, hare_niemeyer, sainte_lague
from transforms.apportionment import Totals
from transforms.divisor import DHONDT, SAINTE_LAGUE, highest_averages, modified_sainte_lague
from transforms.largest_remainder import largest_remainder
from transforms.threshold import ThresholdSpec, apply_threshold
from transforms.tie import Where

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SERIES = st.sampled_from([DHONDT, SAINTE_LAGUE, modified_sainte_lague(Fraction(6, 5))])
votes_strategy = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), st.integers(0, 10**6),
                                 min_size=1, max_size=12)


def contested(result) -> int:
    return sum(t.seats - len(t.winners) for t in result.ties)


@SETTINGS
@given(votes_strategy, st.integers(0, 80), SERIES)
def test_divisor_seats_sum_to_total(votes, seats, series):
    assume(sum(votes.values()) > 0)
    r = highest_averages(votes, seats, series, log=False)
    assert sum(r.seats.values()) + contested(r) == seats
    assert all(n == 0 for i, n in r.seats.items() if votes[i] == 0)


@SETTINGS
@given(votes_strategy, st.integers(1, 60))
def test_largest_remainder_seats_sum_to_total(votes, seats):
    assume(sum(votes.values()) > 0)
    r = hare_niemeyer.allocate(votes, seats, log=False)
    assert sum(r.seats.values()) + contested(r) == seats
    # Hare-Niemeyer stays within one seat of the exact share (quota rule)
    total = sum(votes.values())
    for i, v in votes.items():
        share = Fraction(v * seats, total)
        assert share - 1 < r.seats[i] < share + 1 or r.ties


@SETTINGS
@given(votes_strategy, st.integers(1, 60), st.sampled_from([1, 3, 4, 5]), st.booleans())
def test_no_seat_below_the_threshold(votes, seats, percent, inclusive):
    total = sum(votes.values())
    assume(total > 0)
    spec = ThresholdSpec(base="list_votes", inclusive=inclusive, percent=Fraction(percent))
    out = apply_threshold(spec, votes, totals=Totals(), seats=seats, where=Where("XX"), log=False)
    assert not out.undecided
    line = Fraction(percent * total, 100)
    for i in out.failed:
        assert votes[i] < line or (not inclusive and votes[i] == line)
    participants = {i: votes[i] for i in out.passed}
    assume(sum(participants.values()) > 0)
    r = dhondt.allocate(participants, seats, log=False)
    seats_of = {i: r.seats.get(i, 0) for i in votes}
    assert all(seats_of[i] == 0 for i in out.failed)


@SETTINGS
@given(votes_strategy, st.integers(1, 60), SERIES, st.data())
def test_more_votes_never_fewer_seats(votes, seats, series, data):
    """Divisor methods are house-monotone and vote-monotone: a list that gains votes (all else equal)
    never loses a seat."""
    assume(sum(votes.values()) > 0)
    who = data.draw(st.sampled_from(sorted(votes)))
    extra = data.draw(st.integers(1, 10**5))
    before = highest_averages(votes, seats, series, log=False)
    after = highest_averages({**votes, who: votes[who] + extra}, seats, series, log=False)
    assume(not before.ties and not after.ties)
    assert after.seats[who] >= before.seats[who]


@SETTINGS
@given(votes_strategy, st.integers(1, 40), SERIES)
def test_more_seats_never_fewer_seats(votes, seats, series):
    """House monotonicity of divisor methods (no Alabama paradox)."""
    assume(sum(votes.values()) > 0)
    a = highest_averages(votes, seats, series, log=False)
    b = highest_averages(votes, seats + 1, series, log=False)
    assume(not a.ties and not b.ties)
    assert all(b.seats[i] >= a.seats[i] for i in votes)


@SETTINGS
@given(st.integers(1, 10**6), st.integers(2, 6), st.integers(0, 6), st.data(), SERIES)
def test_identical_lists_tie_and_lots_resolve(v, k, m, data, series):
    """k lists with the same votes and k·m + j seats (0 < j < k): j seats are an exact tie between all k."""
    j = data.draw(st.integers(1, k - 1))
    votes = {f"l{n}": v for n in range(k)}
    r = highest_averages(votes, k * m + j, series, where=Where("XX"), log=False)
    (tie,) = r.ties
    assert tie.seats == j and tie.lists == tuple(sorted(votes)) and not tie.resolved
    assert all(n == m for n in r.seats.values())
    winners = data.draw(st.permutations(sorted(votes))).__getitem__(slice(0, j))
    r = highest_averages(votes, k * m + j, series, where=Where("XX"), lots={tie.key: list(winners)}, log=False)
    assert sum(r.seats.values()) == k * m + j
    assert all(n == m + (i in winners) for i, n in r.seats.items())


@SETTINGS
@given(st.integers(1, 10**6), st.integers(2, 6), st.data())
def test_largest_remainder_identical_lists_tie(v, k, data):
    j = data.draw(st.integers(1, k - 1))
    votes = {f"l{n}": v for n in range(k)}
    r = largest_remainder(votes, j, Fraction(v * k, j), where=Where("XX"), log=False)
    (tie,) = r.ties
    assert tie.seats == j and len(tie.lists) == k and sum(r.seats.values()) == 0


@SETTINGS
@given(votes_strategy, st.integers(1, 40))
def test_sainte_lague_and_schepers_rounding_agree(votes, seats):
    """Highest averages 1, 3, 5, ... equals 'votes / D rounded to nearest' for the divisor D of the result."""
    assume(sum(votes.values()) > 0)
    r = sainte_lague.allocate(votes, seats, log=True)  # the boundary quotients are in info when logging
    assume(not r.ties)
    # λ strictly between the first losing and the last winning quotient; D = 2λ is a Schepers divisor:
    # votes/(2k+1) > λ  <=>  votes/D > k + 1/2
    assume("first_losing_quotient" in r.info)
    divisor = r.info["first_losing_quotient"] + r.info["last_winning_quotient"]
    for i, x in votes.items():
        rounded = int(x / divisor + Fraction(1, 2))  # no half can occur: λ is strictly inside the interval
        assert rounded == r.seats[i]
