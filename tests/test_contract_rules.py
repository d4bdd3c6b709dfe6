"""The delivery contract's rule ids: docs/DELIVERY.md is the code's twin.

The ids the intake can emit are extracted from the code itself (not a hand list): the first
argument of every ``DeliveryRejected(...)``/``_reject(...)`` call of the intake's modules (string
literals, both branches of a conditional, a local variable's literal assignments, and
``f"metadata_{key}"`` = one rule per field of the metadata schema), the ``rule`` of every
expectation of the suites (``severity: warning`` ones are warnings), and the ``<id>: ...``
prefix of every warning the intake appends. The doc's table of section "Every rule id" must list
exactly those, each with the right kind.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from enr.delivery import META_SCHEMA

ROOT = Path(__file__).resolve().parent.parent
INTAKE_MODULES = ("enr/delivery.py", "enr/intake.py", "enr/signatures.py", "expectations/runner.py")
REJECT_CALLS = {"DeliveryRejected", "_reject"}
DOC = ROOT / "docs" / "DELIVERY.md"


def _literals(node: ast.AST, assigned: dict[str, list[ast.AST]]) -> set[str] | None:
    """The rule ids a rule argument can take; None when the expression is not statically known."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        a, b = _literals(node.body, assigned), _literals(node.orelse, assigned)
        return None if a is None or b is None else a | b
    if isinstance(node, ast.Name) and node.id in assigned:
        out: set[str] = set()
        for value in assigned[node.id]:
            got = _literals(value, assigned)
            if got is None:
                return None
            out |= got
        return out
    if isinstance(node, ast.JoinedStr) and [type(v) for v in node.values] == [ast.Constant, ast.FormattedValue] \
            and node.values[0].value == "metadata_":
        return {f"metadata_{key}" for key in META_SCHEMA["properties"]}
    return None


def _warning_prefix(node: ast.AST) -> str | None:
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        text = node.values[0].value
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    else:
        return None
    match = re.match(r"([a-z_]+):", text)
    return match.group(1) if match else None


def code_rules() -> tuple[dict[str, str], list[str]]:
    """``{id: "refusal" | "warning"}`` from the code, and the calls whose rule could not be read."""
    found: dict[str, str] = {}
    unreadable: list[str] = []
    for relative in INTAKE_MODULES:
        tree = ast.parse((ROOT / relative).read_text(encoding="utf-8"))
        for function in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            assigned: dict[str, list[ast.AST]] = {}
            for node in ast.walk(function):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            assigned.setdefault(target.id, []).append(node.value)
            for node in ast.walk(function):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in REJECT_CALLS and node.args and function.name != "_reject":
                    ids = _literals(node.args[0], assigned)
                    if ids is None:
                        # the report's rejection re-raises a suite's rule: covered by the suites below
                        if ast.unparse(node.args[0]) != "first.rule":
                            unreadable.append(f"{relative}:{node.lineno} {ast.unparse(node.args[0])}")
                        continue
                    for rule in ids:
                        found[rule] = "refusal"
                if name == "append" and ast.unparse(node.func).endswith("warnings.append") and node.args:
                    prefix = _warning_prefix(node.args[0])
                    if prefix:
                        found[prefix] = "warning"
                for keyword in node.keywords:
                    if keyword.arg == "warnings" and isinstance(keyword.value, ast.List):
                        for item in keyword.value.elts:
                            prefix = _warning_prefix(item)
                            if prefix:
                                found[prefix] = "warning"
    for path in sorted((ROOT / "expectations" / "suites").glob("*.json")):
        for expectation in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            rule = expectation["meta"]["rule"]
            found[rule] = "warning" if expectation.get("severity") == "warning" else "refusal"
    return found, unreadable


def doc_rules() -> dict[str, str]:
    """The table of docs/DELIVERY.md's section 'Every rule id': ``| `id` | kind | ... |``."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## 9. Every rule id", 1)[1].split("\n## ", 1)[0]
    out: dict[str, str] = {}
    for line in section.splitlines():
        match = re.match(r"\|\s*`([a-z_]+)`\s*\|\s*(refusal|warning)\s*\|", line)
        if match:
            assert match.group(1) not in out, f"{match.group(1)} listed twice"
            out[match.group(1)] = match.group(2)
    return out


def test_every_rule_call_is_readable():
    _, unreadable = code_rules()
    assert unreadable == []


def test_the_extraction_sees_the_known_kinds_of_rule():
    found, _ = code_rules()
    # one of each source: a parser literal, a conditional, the metadata schema, the context checks,
    # the signature module, a suite, a suite warning, an intake warning
    for rule, kind in {"header_order": "refusal", "row_count": "refusal", "metadata_issued_at": "refusal",
                       "metadata_declared_seats": "refusal", "units_total_mismatch": "refusal",
                       "signer_revoked": "refusal", "votes_sum_mismatch": "refusal",
                       "turnout_implausible": "warning", "correction_without_change": "warning",
                       "sequence_gap": "warning"}.items():
        assert found.get(rule) == kind, rule


def test_the_doc_lists_exactly_the_rules_the_code_can_emit():
    found, _ = code_rules()
    documented = doc_rules()
    assert sorted(set(found) - set(documented)) == [], "emitted by the code but not in docs/DELIVERY.md"
    assert sorted(set(documented) - set(found)) == [], "in docs/DELIVERY.md but emitted by no code"
    assert {k: v for k, v in documented.items() if found[k] != v} == {}, "kind differs"
