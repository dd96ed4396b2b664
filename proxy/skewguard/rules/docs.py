"""Generate docs/rules.md from the rule metadata: ``python -m skewguard.rules.docs``."""

from __future__ import annotations

import sys
from typing import Any

from skewguard.rules import RULES
from skewguard.rules.base import Rule


def _rule(rule: Rule[Any]) -> list[str]:
    out = [
        f"## {rule.id} `{rule.name}`",
        "",
        f"**Default severity:** {rule.severity.value}. **Covers:** "
        + ("`*`" if rule.lint else ", ".join(f"`{k.__name__}`" for k in rule.covers)),
        "",
        rule.summary + ".",
        "",
        rule.doc,
        "",
        f"**Breaks:** {rule.breaks}",
        "",
        f"**Safe recipe:** {rule.recipe}",
        "",
    ]
    if rule.examples:
        out += ["| schema | version's query | migration | breaks |", "|---|---|---|---|"]
        for ex in rule.examples:
            cells = [ex.schema_sql, ex.usage_sql, ex.migration_sql]
            cells = ["`" + c.replace("|", "\\|").replace("`", "'") + "`" for c in cells]
            verdict = "yes" if ex.breaks else "no"
            if ex.note:
                verdict += f" ({ex.note})"
            out.append("| " + " | ".join([*cells, verdict]) + " |")
        out.append("")
    return out


def render() -> str:
    lines = [
        "# skewguard rules",
        "",
        "Generated from `skewguard.rules.RULES` by `python -m skewguard.rules.docs`; do not "
        "edit by hand.",
        "",
        "SG1xx rules check schema changes against the footprints of protected versions; "
        "SG2xx are lock-safety lints, not tied to a version. Examples are validated against "
        "PostgreSQL (the version's query runs before and after the migration).",
        "",
        "| id | name | severity | summary |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.id} | `{r.name}` | {r.severity.value} | {r.summary} |" for r in RULES]
    lines.append("")
    for rule in RULES:
        lines += _rule(rule)
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
