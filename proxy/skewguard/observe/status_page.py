"""The status page: what an operator looks at first, rendered on the server, no assets.

Mode and health at the top; the versions and why each is protected; which
columns each protected version uses (the compatibility matrix); the DDL the
proxy decided, blocks highlighted with their rules; CI checks apart. Pure: the
admin server gathers the rows, this module only renders them (every value
escaped). The page refreshes itself every ``REFRESH`` seconds.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Seconds between the page's own refreshes.
REFRESH = 10
#: Columns (rows of the matrix) shown at most; the API lists them all.
MATRIX_ROWS = 60
_USES = {"column_read": "R", "column_write": "W"}


@dataclass(frozen=True)
class Health:
    """The proxy's state at a glance."""

    mode: str
    analysis: str
    state_ok: bool
    connections: int
    version: str


def render(health: Health, rows: Sequence[dict[str, Any]], recent: Sequence[dict[str, Any]]) -> str:
    """The whole page; ``rows`` from the version report (with facets), ``recent`` decisions."""
    proxy_decisions = [d for d in recent if d.get("source") != "check"]
    checks = [d for d in recent if d.get("source") == "check"]
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{REFRESH}'><title>skewguard</title><style>"
        "body{font-family:sans-serif;margin:2em;color:#222}"
        "td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}"
        ".bar span{margin-right:2em}.ok{color:#1a7f37}.bad{color:#cf222e;font-weight:bold}"
        "tr.block{background:#ffebe9}tr.warn{background:#fff8c5}"
        ".m{text-align:center;font-family:monospace}</style></head><body>"
        f"<h1>skewguard</h1>{_bar(health)}"
        f"<h2>Versions</h2>{_versions(rows)}"
        f"<h2>What protected versions use</h2>{_matrix(rows)}"
        f"<h2>Recent DDL decisions</h2>{_decisions(proxy_decisions)}"
        f"<h2>CI checks</h2>{_decisions(checks)}"
        "</body></html>"
    )


def _e(value: Any) -> str:
    return html.escape(str(value))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        value = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(value))
    return f"<td>{_e(value if value is not None else '-')}</td>"


def _warning(text: str | None) -> str:
    return f"<td class='bad'>{_e(text)}</td>" if text else "<td>-</td>"


def _bar(health: Health) -> str:
    mode_class = "ok" if health.mode == "enforce" else "bad"
    state = "<span class='ok'>ok</span>" if health.state_ok else "<span class='bad'>failing</span>"
    return (
        "<p class='bar'>"
        f"<span>mode: <b class='{mode_class}'>{_e(health.mode)}</b></span>"
        f"<span>learning: {_e(health.analysis)}</span>"
        f"<span>state store: {state}</span>"
        f"<span>client connections: {health.connections}</span>"
        f"<span>skewguard {_e(health.version)}</span></p>"
    )


def _versions(rows: Sequence[dict[str, Any]]) -> str:
    lines = "".join(
        "<tr>"
        + "".join(
            _cell(r.get(k))
            for k in ("database", "app", "version", "live_connections", "protected", "lifecycle")
        )
        + _warning(r.get("warning"))
        + _cell(r.get("last_seen"))
        + "</tr>"
        for r in rows
    )
    return (
        "<table><tr><th>database</th><th>app</th><th>version</th><th>live</th>"
        "<th>protected (why)</th><th>lifecycle</th><th>warning</th><th>last seen (UTC)</th></tr>"
        f"{lines}</table>"
    )


def _matrix(rows: Sequence[dict[str, Any]]) -> str:
    protected = [r for r in rows if r.get("protected")]
    if not protected:
        return "<p>No protected version yet.</p>"
    names = [f"{r['app']}@{r['version']}" for r in protected]
    uses: dict[tuple[str, str], dict[str, str]] = {}
    for name, row in zip(names, protected, strict=True):
        for facet in row.get("facets") or ():
            mark = _USES.get(facet.get("kind", ""))
            if mark is None:
                continue
            cell = uses.setdefault((row["database"], facet["subject"]), {})
            cell[name] = "".join(sorted(set(cell.get(name, "") + mark)))
    objects = sorted(uses)
    shown = objects[:MATRIX_ROWS]
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    body = "".join(
        f"<tr><td>{_e(db)}</td><td>{_e(subject)}</td>"
        + "".join(f"<td class='m'>{uses[(db, subject)].get(n, '')}</td>" for n in names)
        + "</tr>"
        for db, subject in shown
    )
    more = (
        f"<p>... and {len(objects) - len(shown)} more columns (GET /api/versions).</p>"
        if len(objects) > len(shown)
        else ""
    )
    return (
        f"<table><tr><th>database</th><th>column</th>{head}</tr>{body}</table>"
        f"<p>R: read, W: written.</p>{more}"
    )


def _rules(decision: dict[str, Any]) -> str:
    rules = sorted({f.get("rule", "") for f in decision.get("findings") or () if f.get("rule")})
    return ", ".join(rules) or "-"


def _decisions(recent: Sequence[dict[str, Any]]) -> str:
    if not recent:
        return "<p>None yet.</p>"
    lines = "".join(
        f"<tr class='{_e(d.get('decision', ''))}'>"
        + "".join(_cell(d.get(k)) for k in ("at", "decision", "database", "client"))
        + _cell(_rules(d))
        + _cell(d.get("note"))
        + _cell("; ".join(d.get("statements", []))[:300])
        + "</tr>"
        for d in recent
    )
    return (
        "<table><tr><th>at (UTC)</th><th>decision</th><th>database</th><th>client</th>"
        f"<th>rules</th><th>why</th><th>statements</th></tr>{lines}</table>"
    )
