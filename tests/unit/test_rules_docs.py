"""docs/rules.md is generated from the rule metadata and must not go stale."""

from __future__ import annotations

from pathlib import Path

from skewguard.rules.docs import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_rules_md_is_up_to_date() -> None:
    assert DOC.read_text() == render(), (
        "docs/rules.md is stale: run `python -m skewguard.rules.docs > docs/rules.md`"
    )


def test_every_rule_is_documented() -> None:
    from skewguard.rules import RULES

    text = render()
    for rule in RULES:
        assert f"## {rule.id} `{rule.name}`" in text
