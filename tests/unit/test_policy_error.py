"""The 55006 error people read in psql or their ORM: plain words, capped, with ways forward."""

from __future__ import annotations

from skewguard.ddl.changes import DropColumn
from skewguard.ddl.findings import Finding, Severity
from skewguard.footprint import Evidence, VersionKey
from skewguard.policy import Refusal, render_error
from skewguard.protection import Protection

DROP = DropColumn("public.users.email", "text", relation="public.users")


def _finding(version: str, rule: str = "SG102") -> Finding:
    return Finding(
        rule=rule,
        name="drop-column-in-use",
        severity=Severity.BREAK,
        change=DROP,
        version=VersionKey("shop", "shop", version),
        facet=None,
        evidence=Evidence(3, 1.0, 2.0, "SELECT email FROM users WHERE id = 42"),
        message="it reads public.users.email",
        hint="Stop reading the column first, then drop it.",
    )


def test_headline_in_plain_words_names_versions_and_why() -> None:
    protections = {VersionKey("shop", "shop", "1"): Protection.LIVE}
    message, detail, hint = render_error([_finding("1")], protections)
    assert message == "skewguard: dropping column public.users.email would break shop@1 (live)"
    assert detail.startswith("shop@1 (live): SG102 drop-column-in-use: it reads")
    assert "seen 3 times" in detail and "42" not in detail  # no sample for ordinary roles
    assert hint.startswith("Stop reading the column first")
    assert "skewguard versions retire shop@1" in hint and "--wait-safe" in hint
    assert "not honoured" not in hint


def test_detail_is_capped_but_names_every_version() -> None:
    findings = [_finding(str(v)) for v in range(10)]
    message, detail, _ = render_error(findings, {})
    lines = detail.splitlines()
    assert len(lines) == 6
    assert all(f"shop@{v}" in detail for v in range(10))
    assert lines[-1].startswith("... and shop@5, shop@6")
    assert message.endswith("shop@0 (protected), shop@1 (protected), shop@2 (protected), 7 more")


def test_samples_for_override_roles_and_a_refused_override_is_said() -> None:
    _, detail, hint = render_error([_finding("1")], {}, samples=True, refused_override="app")
    assert "e.g. SELECT email FROM users WHERE id = 42" in detail
    assert "role app is not in --override-roles" in hint


def test_the_raising_statement_is_ascii_whatever_the_texts() -> None:
    """It replaces the client's text, which PostgreSQL reads in the session's
    client_encoding: a byte of ours above 0x7F could read as anything there."""
    refusal = Refusal(
        "skewguard: \u00e9t\u00e9 \u2014 'x'",
        "d\u00e9tail \\",
        "\U0001f600",
        refused="SELECT '\u8868'",
    )
    assert refusal.statement.isascii()
    assert "E'skewguard: \\u00e9t\\u00e9 \\u2014 ''x'''" in refusal.statement
    assert "E'\\U0001f600'" in refusal.statement
