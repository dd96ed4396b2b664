"""From findings to a decision, and from a block to the error PostgreSQL will raise.

Pure. The mode and an operator's override turn findings into allow, warn or
block. A block is carried out by PostgreSQL itself: the statement is replaced
by a ``DO`` block that raises SQLSTATE 55006 with our message, detail and hint,
so ordering, pipelining and transaction state stay exactly PostgreSQL's.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NamedTuple

from skewguard.ddl import Change, Finding, Severity
from skewguard.footprint import VersionKey
from skewguard.protection import Protection

OBJECT_IN_USE = "55006"
_OVERRIDE_COMMENT = re.compile(r"/\*\s*skewguard:allow\s+reason\s*=\s*\"([^\"]*)\"\s*\*/", re.I)
#: Samples quoted in an error are cut to this many characters.
SAMPLE_IN_ERROR = 160


class Mode(StrEnum):
    ENFORCE = "enforce"
    WARN = "warn"
    OBSERVE = "observe"


class Action(StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    BLOCK = "block"


def override_in_comment(sql: str) -> str | None:
    """The reason of a ``/* skewguard:allow reason="…" */`` comment, if any."""
    match = _OVERRIDE_COMMENT.search(sql)
    return match.group(1) if match else None


class BlockError(NamedTuple):
    """The error a blocked statement fails with (SQLSTATE 55006), as people read it."""

    message: str
    detail: str
    hint: str


@dataclass(frozen=True)
class Decision:
    action: Action
    findings: tuple[Finding, ...] = ()
    changes: tuple[Change, ...] = ()
    override: str | None = None  # the reason, when an override turned a block into a warn
    note: str = ""  # why, in a few words
    error: BlockError | None = None  # when blocked
    unjudged: str | None = None  # why the guard could not judge (a reason label), if so

    @property
    def breaking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.BREAK)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.action.value,
            "breaking": bool(self.breaking),
            "note": self.note,
            "override_reason": self.override,
            "unjudged": self.unjudged,
            "changes": [c.to_dict() for c in self.changes],
            "findings": [f.to_dict() for f in self.findings],
            "error": self.error._asdict() if self.error else None,
        }

    def refusal(self, *, refused: str = "") -> Refusal | None:
        """How the statement is refused (PostgreSQL raises the error in its place); None
        when it is not blocked. ``refused``: the client's text, for PostgreSQL's log."""
        if self.action is not Action.BLOCK or self.error is None:
            return None
        return Refusal(*self.error, refused=refused)


def decide(
    findings: Sequence[Finding],
    changes: Sequence[Change],
    *,
    mode: Mode,
    protections: Mapping[VersionKey, Protection],
    override: str | None = None,
    samples: bool = False,
    refused_override: str | None = None,
) -> Decision:
    """Block on a ``break`` finding in enforce mode unless overridden; warn otherwise.

    ``samples``: the error's DETAIL quotes each finding's sample statement (for the
    roles in --override-roles; anyone else learns versions, rules and objects only).
    """
    breaking = [f for f in findings if f.severity is Severity.BREAK]
    found, changed = tuple(findings), tuple(changes)
    if not breaking:
        return Decision(Action.ALLOW, found, changed, note="breaks no protected version")
    if mode is Mode.OBSERVE:
        return Decision(Action.ALLOW, found, changed, note="observe mode")
    if override is not None:
        return Decision(Action.WARN, found, changed, override=override, note="overridden")
    if mode is Mode.WARN:
        return Decision(Action.WARN, found, changed, note="warn mode")
    return Decision(
        Action.BLOCK,
        found,
        changed,
        note="breaks protected versions",
        error=render_error(
            breaking, protections, samples=samples, refused_override=refused_override
        ),
    )


def unparseable_decision(block: bool) -> Decision:
    """DDL pglast cannot read: the policy (--unparseable-ddl) decides."""
    if not block:
        return Decision(Action.ALLOW, note="unparseable DDL allowed (--unparseable-ddl allow)")
    message = "skewguard: this DDL could not be parsed, and --unparseable-ddl is block"
    hint = "Check the statement's syntax, or ask an operator to override with a reason."
    return Decision(Action.BLOCK, note="unparseable DDL", error=BlockError(message, "", hint))


@dataclass(frozen=True, slots=True)
class Unjudgeable:
    """Why the guard cannot judge: a reason label (metrics, audit) and words for people."""

    reason: str  # deadline, catalog, state, unmodelled, opaque, guard-error, too-large...
    why: str


#: What to do when retrying cannot help, by reason.
_UNJUDGED_HINTS = {
    "unmodelled": "Retrying gives the same answer: skewguard does not follow what this "
    "statement does (the message says which part). Send that part as a statement of its "
    "own (one ALTER TABLE per subcommand) so the rest is judged; check it by hand and have "
    'an operator override with /* skewguard:allow reason="..." */ (roles in '
    "--override-roles), or run it once no version is protected.",
    "footprint": "Retire the version once it no longer runs (skewguard versions retire "
    "APP@VERSION), raise --max-version-facets, or have an operator override with "
    '/* skewguard:allow reason="..." */ (roles in --override-roles).',
}


def unjudged_decision(
    reason: str, why: str, *, mode: Mode, on_error: str, users: Sequence[str] = ()
) -> Decision:
    """The guard could not judge in time or at all: enforce refuses unless told to allow.

    ``reason`` is a short label (deadline, catalog, state, unmodelled, opaque,
    guard-error); ``why`` says it for a human; ``users`` names the protected
    versions known to use what the statement affects (with their evidence).
    """
    note = f"cannot judge ({reason}): {why}"
    if mode is Mode.OBSERVE or on_error == "allow":
        return Decision(Action.ALLOW, note=note, unjudged=reason)
    if mode is Mode.WARN:
        return Decision(Action.WARN, note=note, unjudged=reason)
    message = f"skewguard: cannot judge this statement: {why}"
    detail = (
        "The guard refuses what it cannot check while protected versions may depend on it; "
        "nothing of this statement ran."
    )
    hint = _UNJUDGED_HINTS.get(
        reason,
        "Retry the statement; if it keeps failing, an operator can override with "
        '/* skewguard:allow reason="..." */ (roles in --override-roles), or run skewguard '
        "with --on-guard-error allow.",
    )
    if users:
        detail += " Protected versions using what it affects: " + "; ".join(users) + "."
        hint = (
            "Only the versions named can notice it: run it once they are retired, or have "
            'an operator override with /* skewguard:allow reason="..." */ '
            "(roles in --override-roles)."
        )
    return Decision(
        Action.BLOCK, note=note, error=BlockError(message, detail, hint), unjudged=reason
    )


def opaque_decision(what: str, *, mode: Mode, policy: str) -> Decision:
    """Code the proxy can see but not read (a DO block, a CALL) where versions are protected."""
    note = f"opaque DDL ({what}), --opaque-ddl {policy}"
    if mode is Mode.OBSERVE or policy == "allow":
        return Decision(Action.ALLOW, note=note, unjudged="opaque")
    if mode is Mode.WARN or policy == "warn":
        return Decision(Action.WARN, note=note, unjudged="opaque")
    message = f"skewguard: cannot judge this statement: {what} runs code the proxy cannot read"
    detail = (
        "It may change the schema that protected versions use, and skewguard cannot see "
        "what it would change (--opaque-ddl block)."
    )
    hint = (
        "Send the DDL itself as plain statements, or have an operator override with "
        '/* skewguard:allow reason="..." */ (roles in --override-roles).'
    )
    return Decision(
        Action.BLOCK, note=note, error=BlockError(message, detail, hint), unjudged="opaque"
    )


def overridden(decision: Decision, reason: str) -> Decision:
    """An operator's override turns a block into an audited warning."""
    if decision.action is not Action.BLOCK:
        return decision
    return replace(decision, action=Action.WARN, override=reason, error=None, note="overridden")


@dataclass(frozen=True, slots=True)
class Refusal:
    """How a blocked statement is answered: PostgreSQL itself raises this error."""

    message: str
    detail: str
    hint: str
    sqlstate: str = OBJECT_IN_USE
    rollback_first: bool = False  # end the open transaction first (simple protocol only)
    refused: str = ""  # the client's text, named in a comment for PostgreSQL's own log

    @property
    def statement(self) -> str:
        """The SQL that raises it (after a ROLLBACK when ``rollback_first``).

        PostgreSQL logs the statement that failed, which is this one: a leading
        comment names the client's refused text there, so the server log shows
        what was refused (made inert: it can never close the comment).
        """
        raising = raise_statement(self.message, self.detail, self.hint, sqlstate=self.sqlstate)
        if self.refused:
            inert = self.refused[:REFUSED_IN_LOG].replace("/*", "/ *").replace("*/", "* /")
            # ASCII only: PostgreSQL reads it in the client's encoding, which may not be ours
            inert = inert.encode("ascii", "backslashreplace").decode()
            raising = f"/* skewguard refused: {inert} */ {raising}"
        return f"ROLLBACK; {raising}" if self.rollback_first else raising


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


#: Characters of a refused statement quoted in PostgreSQL's log.
REFUSED_IN_LOG = 500
#: DETAIL lines at most (one per version); the versions past it are named on the last
#: line, their evidence is in the audit (GET /api/decisions).
DETAIL_LINES = 6
#: Versions named in the headline at most.
HEADLINE_VERSIONS = 3


def render_error(
    breaking: Sequence[Finding],
    protections: Mapping[VersionKey, Protection],
    *,
    samples: bool = False,
    refused_override: str | None = None,
) -> BlockError:
    """The contract's error: a plain-words headline naming the versions, DETAIL with
    the evidence (capped), HINT with the recipe and the ways forward.

    The guard answers before PostgreSQL checks privileges, so the DETAIL quotes a
    sample statement only when ``samples`` (the requester is an override role).
    ``refused_override``: the role whose override was not honoured (said in the HINT).
    """
    versions = sorted({f.version for f in breaking if f.version is not None})
    named = [f"{v.app}@{v.version} ({protections.get(v, 'protected')})" for v in versions]
    if len(named) > HEADLINE_VERSIONS:
        named = [*named[:HEADLINE_VERSIONS], f"{len(named) - HEADLINE_VERSIONS} more"]
    changes = list(dict.fromkeys(f.change.describe() for f in sorted(breaking, key=_order)))
    message = f"skewguard: {'; '.join(changes)} would break {', '.join(named)}"
    lines = []
    by_version: dict[VersionKey | None, list[Finding]] = {}
    for finding in sorted(breaking, key=_order):
        by_version.setdefault(finding.version, []).append(finding)
    for version, found in by_version.items():
        who = f"{version.app}@{version.version}" if version else "-"
        why = f" ({protections.get(version, 'protected')})" if version else ""
        parts = []
        for finding in found:
            part = f"{finding.rule} {finding.name}: {finding.message}"
            evidence = finding.evidence
            if evidence is not None:
                plural = "s" if evidence.count != 1 else ""
                part += f" (seen {evidence.count} time{plural}, last {_when(evidence.last_seen)}"
                if samples:
                    part += "; e.g. " + " ".join(evidence.sample.split())[:SAMPLE_IN_ERROR]
                part += ")"
            parts.append(part)
        lines.append(f"{who}{why}: " + "; ".join(parts))
    if len(lines) > DETAIL_LINES:  # every version is still named
        rest = [f"{v.app}@{v.version}" for v in list(by_version)[DETAIL_LINES - 1 :] if v]
        lines = [*lines[: DETAIL_LINES - 1], f"... and {', '.join(rest)} (GET /api/decisions)"]
    hints = list(dict.fromkeys(f.hint for f in breaking if f.hint))
    example = next((f"{v.app}@{v.version}" for v in versions), "APP@VERSION")
    hints.append(
        "Ways forward: follow the recipe; or wait until no protected version uses it "
        "(skewguard check --wait-safe waits for that); or retire a version that will never "
        f"run again (skewguard versions retire {example}); or, from a role allowed to "
        'override, add /* skewguard:allow reason="..." */ (docs/troubleshooting.md).'
    )
    if refused_override is not None:
        hints.append(
            f"Your override was not honoured: role {refused_override} is not in --override-roles."
        )
    return BlockError(message, "\n".join(lines), "\n".join(hints))


def _order(finding: Finding) -> tuple[VersionKey, str]:
    return (finding.version or VersionKey("", "", ""), finding.rule)


def _escaped(text: str) -> str:
    """``text`` as an ASCII-only E'' literal: the statement replaces the client's text in
    its own client_encoding, in which non-ASCII bytes of ours could read as anything."""
    out = []
    for ch in text:
        if ch.isascii():
            out.append("\\\\" if ch == "\\" else "''" if ch == "'" else ch)
        else:
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "E'" + "".join(out) + "'"


def raise_statement(message: str, detail: str, hint: str, *, sqlstate: str = OBJECT_IN_USE) -> str:
    """A statement that makes PostgreSQL raise this error itself (SQLSTATE 55006 by default)."""
    if len(sqlstate) != 5 or not sqlstate.isalnum():
        raise ValueError(f"not a SQLSTATE: {sqlstate!r}")
    texts = (message, detail, hint)
    while True:
        tag = "sg" + secrets.token_hex(4)
        outer = "skewguard_" + tag
        if not any(f"${tag}$" in text or f"${outer}$" in text for text in texts):
            break
    quoted = [f"${tag}${text}${tag}$" if text.isascii() else _escaped(text) for text in texts]
    return (
        f"DO ${outer}$ BEGIN RAISE EXCEPTION USING ERRCODE = '{sqlstate}', "
        f"MESSAGE = {quoted[0]}, DETAIL = {quoted[1]}, HINT = {quoted[2]}; END ${outer}$"
    )
