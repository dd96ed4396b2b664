"""``skewguard check PATH…``: the guard's verdict on a migration, before it runs.

Against a running proxy (``--admin URL``, which knows the live versions), or
straight from a state file and the database (``--state PATH --upstream URL``).
Files and directories (their ``*.sql`` files, sorted as migration tools order
them) are applied in sequence, as one migration. Exit 0: safe; 1: would break
a protected version; 2: anything check cannot read or judge — a syntax error,
a psql meta-command it cannot follow, a statement PostgreSQL would reject in
that database, a connection error — so CI never passes by accident.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pglast.parser import ParseError

from skewguard.admin_client import add_token_argument, call
from skewguard.config import (
    ConfigError,
    Settings,
    add_client_config,
    parse_duration,
    parse_upstream,
)
from skewguard.output import add_format_argument
from skewguard.sql_parse import parse_sql
from skewguard.waiting import breaking_versions, wait_until_safe

SAFE, BREAKING, ERROR = 0, 1, 2

#: psql meta-commands that change nothing in the database: skipped with a warning.
HARMLESS_META = frozenset(
    {"set", "unset", "echo", "qecho", "warn", "timing", "pset", "x", "a", "t", "encoding", "o"}
)


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="PATH",
        help="migration SQL files or directories of *.sql files, applied in order ('-': stdin)",
    )
    parser.add_argument("--admin", metavar="URL", help="a running proxy's admin URL")
    parser.add_argument("--state", metavar="PATH", help="state file (with --upstream)")
    parser.add_argument("--upstream", metavar="URL", help="the database (with --state)")
    parser.add_argument(
        "--database", help="database the migration runs in (default: the upstream URL's)"
    )
    add_client_config(parser)
    add_format_argument(parser, ("text", "json", "github"))
    parser.add_argument(
        "--wait-safe",
        action="store_true",
        help="for a contract step: wait until no protected version would break, then exit 0 "
        "(progress on stderr); exit 1 at --timeout",
    )
    parser.add_argument(
        "--timeout",
        type=parse_duration,
        default=3600.0,
        metavar="DURATION",
        help="how long --wait-safe waits (default 1h)",
    )
    parser.add_argument(
        "--interval",
        type=parse_duration,
        default=1.0,
        metavar="DURATION",
        help="how often --wait-safe asks again (default 1s)",
    )
    parser.add_argument(
        "--replay",
        action="store_true",
        help="with --admin: also replay the protected versions' sampled statements before "
        "and after the migration in a scratch transaction the proxy always rolls back "
        "(it takes the migration's locks for a moment, within lock_timeout)",
    )
    add_token_argument(parser)


@dataclass(frozen=True)
class Where:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass
class Migration:
    """The files of one migration, joined into one text whose offsets map back to file:line."""

    text: str = ""
    starts: list[int] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)  # (name, text as read)
    warnings: list[tuple[Where, str]] = field(default_factory=list)
    errors: list[tuple[Where, str]] = field(default_factory=list)

    def add(self, name: str, text: str) -> None:
        cleaned = self._without_meta_commands(name, text)
        try:
            parse_sql(cleaned)
        except ParseError as exc:
            message, location = exc.args[0], exc.args[1] if len(exc.args) > 1 else 0
            self.errors.append((_where(name, text, int(location)), str(message)))
        self.starts.append(len(self.text))
        self.sources.append((name, text))
        self.text += cleaned + "\n;\n"  # a file's last statement never runs into the next file

    def where(self, offset: int) -> Where:
        index = bisect.bisect_right(self.starts, offset) - 1
        name, text = self.sources[index]
        return _where(name, text, offset - self.starts[index])

    def _without_meta_commands(self, name: str, text: str) -> str:
        """Blank out psql meta-command lines (offsets stay), warning or failing on each."""
        lines = text.splitlines(keepends=True)
        offset = 0
        for index, line in enumerate(lines):
            stripped = line.lstrip()
            if stripped.startswith("\\"):
                command = stripped[1:].split(None, 1)[0] if stripped[1:].strip() else ""
                where = _where(name, text, offset + len(line) - len(stripped))
                if command in HARMLESS_META:
                    self.warnings.append((where, f"psql meta-command \\{command} skipped"))
                else:
                    self.errors.append(
                        (
                            where,
                            f"psql meta-command \\{command} cannot be followed by check "
                            "(it may change the database, the connection or the SQL run); "
                            "pass the SQL it runs to check instead",
                        )
                    )
                lines[index] = "".join(c if c in "\r\n" else " " for c in line)
            offset += len(line)
        return "".join(lines)


def _where(name: str, text: str, offset: int) -> Where:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Where(name, line, column)


_NUMBER = re.compile(r"(\d+)")


def migration_order(file: Path, root: Path) -> tuple[tuple[int, int, str], ...]:
    """Sort key: numbers compare as numbers, as Flyway orders ``V2__`` before ``V10__``,
    and ``__`` ends a version (``V1__`` before ``V1_1__``); zero-padded and timestamped
    names keep their text order."""
    parts = _NUMBER.split(file.relative_to(root).as_posix().replace("__", "\0"))
    return tuple((1, int(p), "") if p.isdigit() else (0, 0, p) for p in parts if p)


def _inputs(paths: list[str]) -> list[tuple[str, str]]:
    """(name, text) of every file, directories expanded to their sorted *.sql files."""
    out: list[tuple[str, str]] = []
    for name in paths:
        if name == "-":
            out.append(("<stdin>", sys.stdin.read()))
            continue
        path = Path(name)
        if path.is_dir():
            files = sorted(path.rglob("*.sql"), key=lambda p: migration_order(p, path))
            if not files:
                raise ValueError(f"{name}: no *.sql files in this directory")
            out.extend((str(f), f.read_text()) for f in files)
        else:
            out.append((name, path.read_text()))
    return out


def _post(args: argparse.Namespace, sql: str) -> dict[str, Any]:
    return call(
        args.admin,
        "/api/check?replay=1" if args.replay else "/api/check",
        token_file=args.admin_token_file,
        body={"sql": sql, "database": args.database},
        timeout=60,
    )


async def _local(args: argparse.Namespace, sql: str) -> dict[str, Any]:
    # the guard's modules load only for a local check (--admin asks a running proxy)
    from skewguard.catalogs import CatalogCache
    from skewguard.guard import Guard, Requester
    from skewguard.identity import Identity
    from skewguard.observe.metrics import ProxyMetrics
    from skewguard.observe.traffic import TrafficBook
    from skewguard.search_path import DEFAULT
    from skewguard.store import open_store

    upstream = parse_upstream(args.upstream)
    settings = Settings(state=args.state, upstream=args.upstream, mode="enforce")
    store = open_store(args.state)
    catalogs = CatalogCache(upstream)
    guard = Guard(settings, store, catalogs, None, ProxyMetrics(TrafficBook()))
    user = upstream.user or "postgres"
    requester = Requester(
        database=args.database or upstream.database or user,
        user=user,
        identity=Identity(),
        peer="skewguard check",
        search_path=DEFAULT,
    )
    try:
        return (await guard.check(requester, sql)).to_dict()
    finally:
        await catalogs.close()
        store.close()


def _located(migration: Migration, result: dict[str, Any]) -> dict[str, Any]:
    """The result with file/line/column for findings and errors (offsets are the joined text's)."""
    for finding in result["findings"]:
        offset = finding.pop("offset", None)
        where = migration.where(offset) if offset is not None else None
        finding["where"] = str(where) if where else None
    errors: list[dict[str, Any]] = [{"where": str(w), "message": m} for w, m in migration.errors]
    for rejected in result.get("rejected", []):
        where = migration.where(rejected["offset"])
        message = rejected["message"] + "; is --database the right database?"
        errors.append({"where": str(where), "message": message})
    if result.get("unjudged"):
        errors.append({"where": None, "message": f"the guard cannot judge: {result['note']}"})
    return {
        "verdict": _verdict(result, errors),
        "database": result.get("database"),
        "decision": result["decision"],
        "breaking": result["breaking"],
        "files": [name for name, _ in migration.sources],
        "findings": result["findings"],
        "errors": errors,
        "warnings": [{"where": str(w), "message": m} for w, m in migration.warnings],
    }


def _verdict(result: dict[str, Any], errors: list[dict[str, Any]]) -> str:
    if errors:
        return "error"
    return "breaking" if result["breaking"] else "safe"


def _render_text(report: dict[str, Any]) -> str:
    heading = {
        "safe": "safe",
        "breaking": "BREAKS protected versions",
        "error": "ERROR: cannot be judged (see below)",
    }[report["verdict"]]
    lines = [f"{', '.join(report['files'])} (database {report['database']}): {heading}"]
    for item in report["errors"]:
        lines.append(f"{item['where'] or '-'}: error: {item['message']}")
    for item in report["warnings"]:
        lines.append(f"{item['where']}: warning: {item['message']}")
    for finding in report["findings"]:
        owner = finding.get("version")
        version = f"{owner['app']}@{owner['version']}" if owner else "-"
        lines.append(
            f"{finding['where'] or '-'}: [{finding['severity']}] {finding['rule']} "
            f"{finding['name']} {version}: {finding['message']}"
        )
        if finding.get("hint"):
            lines.append(f"      hint: {finding['hint']}")
    return "\n".join(lines)


def _github(where: str | None) -> str:
    if not where:
        return ""
    file, line, column = where.rsplit(":", 2)
    return f" file={file},line={line},col={column}"


def _render_github(report: dict[str, Any]) -> str:
    """GitHub Actions workflow commands: each error and finding becomes an annotation."""
    lines = [f"::error{_github(e['where'])}::{e['message']}" for e in report["errors"]]
    lines += [f"::warning{_github(w['where'])}::{w['message']}" for w in report["warnings"]]
    for finding in report["findings"]:
        level = "error" if finding["severity"] == "break" else "warning"
        owner = finding.get("version")
        version = f" ({owner['app']}@{owner['version']})" if owner else ""
        lines.append(
            f"::{level}{_github(finding['where'])}::{finding['rule']} {finding['name']}"
            f"{version}: {finding['message']}"
        )
    lines.append(f"skewguard check: {report['verdict']}")
    return "\n".join(lines)


async def _judge(args: argparse.Namespace, migration: Migration) -> dict[str, Any]:
    """The located report on the whole migration, from the proxy or from the state."""
    if migration.errors:  # never judge what was not read whole
        result = {"decision": "-", "breaking": False, "findings": [], "database": args.database}
    elif args.admin:
        result = await asyncio.to_thread(_post, args, migration.text)
    else:
        result = await _local(args, migration.text)
    return _located(migration, result)


def _holders(report: dict[str, Any]) -> list[str] | None:
    """The versions a breaking report is held back by; None when waiting cannot help."""
    if report["verdict"] != "breaking":
        return None
    return list(breaking_versions(report["findings"]))


def _waiting() -> Callable[[Sequence[str]], None]:
    """Progress for --wait-safe: a line when the versions holding it back change, not
    one per ask (an hour's wait asked every second would print 3,600 lines)."""
    last: list[str] = []

    def progress(held: Sequence[str]) -> None:
        if list(held) != last:
            last[:] = held
            print(f"skewguard check: waiting; held back by {', '.join(held)}", file=sys.stderr)

    return progress


async def _report(args: argparse.Namespace, migration: Migration) -> dict[str, Any]:
    if not args.wait_safe:
        return await _judge(args, migration)
    waited = await wait_until_safe(
        lambda: _judge(args, migration),
        _holders,
        timeout=args.timeout,
        interval=args.interval,
        progress=_waiting(),
    )
    if waited.timed_out:
        print(
            f"skewguard check: still unsafe after {args.timeout:g}s; held back by "
            f"{', '.join(waited.held_back_by)}",
            file=sys.stderr,
        )
    return {**waited.result, "wait": waited.summary()}


def check_command(args: argparse.Namespace) -> int:
    if bool(args.admin) == bool(args.state and args.upstream):
        print(
            "skewguard check: give --admin URL, or --state PATH with --upstream URL",
            file=sys.stderr,
        )
        return ERROR
    if args.replay and not args.admin:
        print(
            "skewguard check: --replay needs --admin: the sampled values live only in the "
            "running proxy's memory",
            file=sys.stderr,
        )
        return ERROR
    migration = Migration()
    try:
        for name, text in _inputs(args.files):
            migration.add(name, text)
        report = asyncio.run(_report(args, migration))
    except (OSError, ValueError, ConfigError, ConnectionError) as exc:
        print(f"skewguard check: {exc}", file=sys.stderr)
        return ERROR
    if args.format == "json":
        print(json.dumps(report, indent=2))
    elif args.format == "github":
        print(_render_github(report))
    else:
        print(_render_text(report))
    return {"safe": SAFE, "breaking": BREAKING, "error": ERROR}[report["verdict"]]
