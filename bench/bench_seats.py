"""Benchmark the seat engine against votelib 0.4.0 on the same inputs (not a test).

    .venv/bin/python bench/bench_seats.py [--quick]

For every 2019 allocation whose core is a plain divisor or largest-remainder method (the national
allocations after the legal threshold, and the Belgian colleges and British regions), and for large
synthetic inputs, it checks that the seats are the same as votelib's and reports the time per
allocation of both (best of several repeats) and the ratio. Our figures are for the engine without the
step log (``log=False``) and with it. Results go to bench/results/seats.md (the lead merges them into
BENCHMARKS.md).

Not compared (votelib has no equivalent): Greece's repeated remainder rounds and Cyprus's gap rule
(quota on all valid votes), Italy's minority link, Slovakia's § 220a deferral, STV declarations.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import votelib.component.divisor as vdiv  # noqa: E402
import votelib.component.quota as vquota  # noqa: E402
import votelib.evaluate.proportional as vprop  # noqa: E402

from enr.definition import load_election  # noqa: E402
from transforms.apportionment import Totals  # noqa: E402
from transforms.divisor import DHONDT, SAINTE_LAGUE, highest_averages, modified_sainte_lague  # noqa: E402
from transforms.hare_niemeyer import allocate as hare_niemeyer  # noqa: E402
from transforms.italy import linked_lists  # noqa: E402
from transforms.largest_remainder import largest_remainder  # noqa: E402
from transforms.procedure import _threshold  # noqa: E402
from transforms.quota import quota  # noqa: E402
from transforms.rules import parse_rules  # noqa: E402
from transforms.tie import Where  # noqa: E402

DATA = ROOT / "data" / "ep2019"
DIVISOR_METHODS = {"dhondt": "dhondt", "romania_dhondt": "dhondt", "netherlands_dhondt": "dhondt",
                   "hagenbach_bischoff": "dhondt", "sainte_lague": "sainte_lague",
                   "sainte_lague_schepers": "sainte_lague", "sainte_lague_modified": "sainte_lague_modified"}


def best_time(fn, repeats: int, number: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def cases_2019() -> list[dict]:
    """(label, votes, seats, kind, parameter) for the 2019 allocations with a plain core."""
    rules = parse_rules(load_election("ep2019").rules)
    nat = pd.read_csv(DATA / "results_national.csv", dtype=str, keep_default_na=False)
    tur = pd.read_csv(DATA / "turnout.csv", dtype=str, keep_default_na=False).set_index("country")
    con = pd.read_csv(DATA / "results_constituency.csv", dtype=str, keep_default_na=False)
    cases = []
    for cc, rule in sorted(rules.items()):
        t = nat[(nat.country == cc) & (nat.votes != "")]
        votes = {i: int(v) for i, v in zip(t.list_id, t.votes)}
        r = tur.loc[cc]
        totals = Totals(*(int(x) if x else None for x in (r.registered_voters, r.voters, r.valid_votes,
                                                          r.blank_votes, r.invalid_votes)))
        if rule.allocation_level == "constituency":
            for c in rule.constituencies:
                if c.method != "dhondt":
                    continue
                rows = con[(con.country == cc) & (con.constituency == c.constituency) & (con.votes != "")]
                cv = {i: int(v) for i, v in zip(rows.list_id, rows.votes)}
                cases.append(dict(label=f"{cc} {c.constituency}", votes=cv, seats=c.seats, kind="dhondt"))
            continue
        table = nat[nat.country == cc]
        minority = frozenset(i for i, m in zip(table.list_id, table.minority) if m == "1")
        alliances = {i: a for i, a in zip(table.list_id, table.alliance) if a}
        links = linked_lists(list(votes), minority, alliances) if rule.alliances == "minority_link" else {}
        passed, _, undecided, _, _ = _threshold(rule, votes, where=Where(cc), totals=totals,
                                                seats=rule.allocated_seats, independents=frozenset(),
                                                links=links, log=False)
        part = {i: votes[i] for i in votes if i in set(passed) | set(undecided)}
        if rule.alliances == "dhondt" and alliances:
            continue  # two-level D'Hondt (DK) has no votelib counterpart as such
        if rule.method in DIVISOR_METHODS:
            cases.append(dict(label=f"{cc} {rule.method}", votes=part, seats=rule.allocated_seats,
                              kind=DIVISOR_METHODS[rule.method], first=rule.first_divisor))
        elif rule.method in ("largest_remainder", "bulgaria_quota"):
            cases.append(dict(label=f"{cc} {rule.method} (Hare on participants)", votes=part,
                              seats=rule.allocated_seats, kind="hare"))
        elif rule.method == "slovakia_ren":
            cases.append(dict(label=f"{cc} REN (Hagenbach-Bischoff rounded), 14 seats", votes=part,
                              seats=rule.allocated_seats, kind="hb_rounded"))
        elif rule.method == "italy_national":
            part = dict(part)
            part["fi"] += part.pop("svp")  # the linked minority list counts with Forza Italia
            cases.append(dict(label="IT national quota (Hare, fraction dropped), 76 seats", votes=part,
                              seats=rule.allocated_seats, kind="hare_floor"))
    return cases


def synthetic(rng: random.Random, lists: int, seats: int, kind: str) -> dict:
    votes = {f"l{i}": int(rng.paretovariate(1.2) * 10_000) for i in range(lists)}
    return dict(label=f"synthetic {kind}: {lists} lists, {seats} seats", votes=votes, seats=seats, kind=kind)


def ours(case: dict, log: bool):
    kind, votes, seats = case["kind"], case["votes"], case["seats"]
    if kind == "dhondt":
        return lambda: highest_averages(votes, seats, DHONDT, log=log)
    if kind == "sainte_lague":
        return lambda: highest_averages(votes, seats, SAINTE_LAGUE, log=log)
    if kind == "sainte_lague_modified":
        series = modified_sainte_lague(case.get("first") or Fraction(6, 5))
        return lambda: highest_averages(votes, seats, series, log=log)
    total = sum(votes.values())
    if kind == "hare":
        return lambda: hare_niemeyer(votes, seats, log=log)
    if kind == "hare_floor":
        return lambda: largest_remainder(votes, seats, quota("hare", total, seats, "floor"), log=log)
    if kind == "hb_rounded":
        return lambda: largest_remainder(votes, seats, quota("hagenbach_bischoff", total, seats, "round_half_up"),
                                         log=log)
    raise ValueError(kind)


def theirs(case: dict):
    kind = case["kind"]
    if kind == "dhondt":
        ev = vprop.HighestAverages("d_hondt")
    elif kind == "sainte_lague":
        ev = vprop.HighestAverages("sainte_lague")
    elif kind == "sainte_lague_modified":
        ev = vprop.HighestAverages(vdiv.modified_first_coef(vdiv.sainte_lague, case.get("first") or Fraction(6, 5)))
    elif kind == "hare":
        ev = vprop.LargestRemainder("hare")
    elif kind == "hare_floor":
        ev = vprop.LargestRemainder(lambda v, s: int(Fraction(v, s)))
    elif kind == "hb_rounded":
        ev = vprop.LargestRemainder(vquota.hagenbach_bischoff_rounded, on_overaward="subtract")
    else:
        raise ValueError(kind)
    return lambda: ev.evaluate(case["votes"], case["seats"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "seats.md"))
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    rng = random.Random(2019)
    cases = cases_2019()
    real = len(cases)
    cases += [synthetic(rng, 50, 1_000, "dhondt"), synthetic(rng, 50, 1_000, "sainte_lague"),
              synthetic(rng, 500, 10_000, "dhondt"), synthetic(rng, 500, 10_000, "sainte_lague_modified"),
              synthetic(rng, 2_000, 10_000, "hare")]
    rows = []
    mismatches = 0
    for n, case in enumerate(cases):
        mine = ours(case, False)()
        ref = theirs(case)()
        same = {i: s for i, s in mine.seats.items() if s} == {i: s for i, s in ref.items() if s} and not mine.ties
        mismatches += not same
        heavy = case["seats"] >= 1_000
        number = 1 if heavy else 200
        t_ref = best_time(theirs(case), 1 if heavy else repeats, 1 if heavy else 20)
        t_ours = best_time(ours(case, False), repeats, number)
        t_log = best_time(ours(case, True), repeats, 1 if heavy else 50)
        rows.append((case["label"], len(case["votes"]), case["seats"], same, t_ref, t_ours, t_log, n < real))
        print(f"{case['label']:<62} same={same!s:<5} votelib {t_ref * 1e6:10.1f} µs  ours {t_ours * 1e6:8.1f} µs "
              f"(x{t_ref / t_ours:6.1f})  with log {t_log * 1e6:8.1f} µs", flush=True)
    real_rows = [r for r in rows if r[7]]
    tot_ref = sum(r[4] for r in real_rows)
    tot_ours = sum(r[5] for r in real_rows)
    tot_log = sum(r[6] for r in real_rows)
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        nproc = str(os.cpu_count())
    lines = [
        "# Seat engine benchmark: transforms vs votelib 0.4.0",
        "",
        f"- command: `.venv/bin/python bench/bench_seats.py{' --quick' if args.quick else ''}`",
        f"- machine: {platform.machine()}, nproc {nproc}, {platform.system()} {platform.release()}; load average "
        f"at the end of the run {os.getloadavg()[0]:.1f} (shared machine: ratios move by ~±20 % between runs)",
        f"- python {platform.python_version()} ({platform.python_implementation()}), votelib 0.4.0, "
        f"pandas {pd.__version__}",
        f"- timing: best of {repeats} repeats (`time.perf_counter`), per allocation; ours without the step "
        "log (`log=False`) and with it",
        f"- same seats as votelib: {len(rows) - mismatches} of {len(rows)} allocations",
        "",
        f"All {real} 2019 allocations with a plain core, together: votelib {tot_ref * 1e3:.2f} ms, "
        f"ours {tot_ours * 1e3:.2f} ms (**x{tot_ref / tot_ours:.1f}**), ours with step log {tot_log * 1e3:.2f} ms "
        f"(x{tot_ref / tot_log:.1f}).",
        "",
        "| allocation | lists | seats | same seats | votelib µs | ours µs | ratio | ours with log µs |",
        "|---|---:|---:|:---:|---:|---:|---:|---:|",
    ]
    for label, lists, seats, same, t_ref, t_ours, t_log, _ in rows:
        lines.append(f"| {label} | {lists} | {seats} | {'yes' if same else 'NO'} | {t_ref * 1e6:.1f} | "
                     f"{t_ours * 1e6:.1f} | x{t_ref / t_ours:.1f} | {t_log * 1e6:.1f} |")
    small = [r for r in real_rows if r[2] <= 10]
    large = [r for r in real_rows if r[2] >= 20]
    per_call = sorted(r[5] * 1e6 for r in real_rows)  # ours, µs
    lines += ["", f"Reading: our cost per call is nearly flat ({per_call[0]:.1f}-{per_call[-2]:.1f} µs, median "
              f"{per_call[len(per_call) // 2]:.1f} µs; {per_call[-1]:.1f} µs for the most lists: input checks, the "
              "exact estimate, the tie check at the boundary, building the result), votelib's grows with seats x "
              "lists. Median ratio "
              f"for allocations of 20 seats or more: x{sorted(r[4] / r[5] for r in large)[len(large) // 2]:.1f}; "
              f"of 10 seats or fewer: x{sorted(r[4] / r[5] for r in small)[len(small) // 2]:.1f} "
              f"(the x10 target: {'met' if tot_ref / tot_ours >= 10 else 'not quite met'} for the 2019 set as a whole "
              f"in this run, x{tot_ref / tot_ours:.1f}; met for medium and large allocations; not for the smallest "
              "ones, where votelib itself takes 7-30 µs). The step log (every seat with its quotient, "
              "as exact and decimal strings) costs more than the allocation; the pipeline needs it, the benchmark "
              "shows both."]
    lines += ["", "Not compared (no votelib equivalent): Greek repeated remainder rounds, Cypriot gap rule, "
              "Italian minority link and held-back seats, Slovak § 220a, Danish two-level alliances, STV.",
              "The 2019 inputs are the lists taking part after each country's threshold "
              "(Italy: SVP counted with Forza Italia; Slovakia: 14 seats; Italy: 76 seats).", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print(f"\n2019 total: votelib {tot_ref * 1e3:.2f} ms, ours {tot_ours * 1e3:.2f} ms, x{tot_ref / tot_ours:.1f}; "
          f"mismatches {mismatches}; wrote {args.out}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
