"""Write ``countries/<CC>.toml`` from an older definition's ``rules.csv`` (one file per country).

    python scripts/country_files_from_rules_csv.py elections/<id>

Writes ``elections/<id>/countries/<CC>.toml`` for every country row of ``rules.csv`` and checks, before
writing, that each file reads back (:mod:`tomllib`, :func:`transforms.country_file.rule_rows`) into
exactly the rows of ``rules.csv``: the same cells, so the same typed rules and the same published
text. ``rules.csv`` itself is left in place; delete it once the country files are the source
(a definition with a ``countries/`` folder no longer reads it). Long texts are wrapped with TOML's
line-ending backslash, which adds nothing to the text. This is how ep2019 and ep2024 were converted.
"""
from __future__ import annotations

import csv
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transforms.country_file import CONSTITUENCY_KEYS, KEYS, rule_rows  # noqa: E402
from transforms.registry import DISTRIBUTIONS, METHODS  # noqa: E402

NAMES = {
    "AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "CY": "Cyprus", "CZ": "Czechia", "DE": "Germany",
    "DK": "Denmark", "EE": "Estonia", "EL": "Greece", "ES": "Spain", "FI": "Finland", "FR": "France",
    "HR": "Croatia", "HU": "Hungary", "IE": "Ireland", "IT": "Italy", "LT": "Lithuania", "LU": "Luxembourg",
    "LV": "Latvia", "MT": "Malta", "NL": "Netherlands", "PL": "Poland", "PT": "Portugal", "RO": "Romania",
    "SE": "Sweden", "SI": "Slovenia", "SK": "Slovakia", "UK": "United Kingdom",
}
WIDTH = 100
SECTIONS = ("threshold", "independent_threshold", "quota", "deferred", "law")


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _string(key: str, text: str, indent: str = "") -> str:
    """``key = "text"``, or a multi-line basic string wrapped at spaces with line-ending backslashes
    (the backslash drops the newline and the next line's indentation: the text is unchanged)."""
    line = f'{indent}{key} = "{_quoted(text)}"'
    if len(line) <= WIDTH:
        return line
    lines, start, room = [], 0, WIDTH - len(indent) - 4
    while len(text) - start > room:
        cut = text.rfind(" ", start, start + room)
        while cut > start and text[cut - 1] == " ":
            cut -= 1
        if cut <= start:  # one long word (a URL): break after it
            cut = text.find(" ", start + room)
            if cut < 0:
                break
        end = cut
        while end < len(text) and text[end] == " ":
            end += 1
        lines.append(f"{indent}  {_quoted(text[start:end])}\\")
        start = end
    lines.append(f'{indent}  {_quoted(text[start:])}"""')
    return f'{indent}{key} = """\\\n' + "\n".join(lines)


def _scalar(local: str, text: str) -> str:
    """A cell as a TOML value: numbers as numbers where that keeps the exact text, flags as booleans."""
    if local == "threshold.inclusive" and text in ("0", "1"):
        return "true" if text == "1" else "false"
    if local in {"seats", "minority_min_votes", "deferred.seats", "first_divisor", "threshold.percent",
                 "threshold.quotas", "threshold.fill_percent", "independent_threshold.quotas"}:
        if text.isdigit() and str(int(text)) == text:
            return text
        try:
            if repr(float(text)) == text:
                return text
        except ValueError:
            pass
    return f'"{_quoted(text)}"'


def _module_comment(column: str, name: str) -> str:
    """``  # transforms/germany.py``: where the method or distribution is written as code."""
    fn = METHODS[name].fn if column == "method" and name in METHODS else DISTRIBUTIONS.get(name)
    if fn is None or column not in ("method", "distribution") or fn.__module__ == "transforms.registry":
        return ""
    return f"  # {fn.__module__.replace('.', '/')}.py"


def country_file(election: str, rows: list[dict[str, str]]) -> str:
    """The text of one country file from its rules.csv rows (country row first)."""
    country, kids = rows[0], rows[1:]
    cc = country["country"]
    out = [f"# {NAMES.get(cc, cc)} ({cc}): the law of the {election} election as the seat engine applies it.",
           "# Keys: transforms/country_file.py and docs/NEW_ELECTION.md; methods: transforms/registry.py.", ""]
    sections: dict[str, list[str]] = {s: [] for s in SECTIONS}
    for column, key in KEYS.items():
        text = (country.get(column) or "").strip()
        if not text:
            continue
        if "." not in key:
            out.append(f"{key} = {_scalar(key, text)}" + _module_comment(column, text))
            continue
        section, name = key.split(".")
        if section == "law":
            sections[section].append(_string(name, text))
        else:
            sections[section].append(f"{name} = {_scalar(key, text)}")
    for section in SECTIONS:
        if sections[section]:
            out += ["", f"[{section}]", *sections[section]]
    for kid in kids:
        out += ["", "[[constituency]]"]
        deferred = []
        for column, key in CONSTITUENCY_KEYS.items():
            text = (kid.get(column) or "").strip()
            if not text:
                continue
            if key.startswith("deferred."):
                deferred.append(f"{key.split('.')[1]} = {_scalar(key, text)}")
            elif key in ("notes", "source"):
                out.append(_string(key, text))
            else:
                out.append(f"{key} = {_scalar(key, text)}")
        if deferred:
            out.append("deferred = { " + ", ".join(deferred) + " }")
    return "\n".join(out) + "\n"


def main(folder: Path) -> int:
    with (folder / "rules.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_country: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_country.setdefault(row["country"], []).append(row)
    (folder / "countries").mkdir(exist_ok=True)
    for cc, own in by_country.items():
        own.sort(key=lambda r: bool(r["constituency"]))  # the country row first, constituencies in order
        text = country_file(folder.name, own)
        back = rule_rows(cc, tomllib.loads(text), f"countries/{cc}.toml")
        expected = [{k: (v or "") for k, v in r.items()} for r in own]
        if [dict(r) for r in back] != expected:
            raise SystemExit(f"{cc}: the country file does not read back into the rules.csv rows")
        (folder / "countries" / f"{cc}.toml").write_text(text, encoding="utf-8")
    print(f"{len(by_country)} country files in {folder / 'countries'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
