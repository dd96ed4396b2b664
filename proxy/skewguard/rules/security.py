"""Row-level security and privileges, against the roles versions connect as.

The footprint must carry the role: the shell records a facet of kind ``role``
(subject: the role name) per version. Without it these rules can only say
"risk" for every version using the object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from skewguard.analysis.facets import Facet
from skewguard.analysis.facets import FacetKind as F
from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import RelKind, privileges_by_role, role_members
from skewguard.ddl.changes import EnableRowLevelSecurity, ForceRowLevelSecurity, Revoke
from skewguard.ddl.findings import Severity
from skewguard.footprint import VersionKey
from skewguard.rules._text import breaks, risks
from skewguard.rules.base import Context, Example, Hit, Rule, first_per_version, relation_of
from skewguard.rules.drops import in_schema


def check_rls(
    ctx: Context, change: EnableRowLevelSecurity | ForceRowLevelSecurity
) -> Iterator[Hit]:
    what = (
        "ENABLE ROW LEVEL SECURITY on "
        if isinstance(change, EnableRowLevelSecurity)
        else "FORCE ROW LEVEL SECURITY on "
    ) + change.subject
    rel = relation_of(ctx.after, change.subject)
    if rel is None:
        return
    # with no policy for the role an INSERT or COPY FROM fails (42501, 0A000); a read,
    # UPDATE or DELETE finds no rows, which is no error
    inserts = {
        v: (f, ev)
        for v, f, ev in first_per_version(ctx.uses(_NEEDS["a"], _on_table(change.subject)))
    }
    uses = ctx.exact((F.RELATION_READ, F.RELATION_WRITE), change.subject)
    for v, f, ev in first_per_version(uses):
        roles = ctx.roles(v)
        if not roles:
            yield Hit(
                Severity.RISK,
                risks(what, v, f, f"{len(rel.policies)} policies; the version's role is unknown"),
                v,
                f,
                ev,
            )
            continue
        for role in sorted(roles):
            if role == rel.owner and not rel.rls_forced:
                continue
            admitted = [p for p in rel.policies if set(p.roles) & {role, "public"}]
            if admitted:
                yield Hit(
                    Severity.RISK,
                    risks(
                        what,
                        v,
                        f,
                        f"policies {', '.join(p.name for p in admitted)} filter role {role}",
                    ),
                    v,
                    f,
                    ev,
                )
            elif v in inserts:
                f, ev = inserts[v]
                yield Hit(
                    Severity.BREAK,
                    breaks(what, v, f) + f" as role {role}, which no policy admits",
                    v,
                    f,
                    ev,
                )
            else:
                why = f"no policy admits role {role}: it sees and changes no rows, no error"
                yield Hit(Severity.RISK, risks(what, v, f, why), v, f, ev)
            break


RLS: Rule[EnableRowLevelSecurity | ForceRowLevelSecurity] = Rule(
    id="SG119",
    name="row-level-security-enabled",
    severity=Severity.BREAK,
    summary="ENABLE ROW LEVEL SECURITY on a table used by versions whose role no policy admits",
    doc="With RLS enabled and no policy for a role, that role cannot insert (42501 new row "
    "violates row-level security policy; COPY FROM: 0A000) and its reads, updates and "
    "deletes find no rows: silently, no error, so those versions are a risk, not a break. "
    "The owner is exempt unless FORCE. Superusers and BYPASSRLS roles are exempt. With "
    "policies for the role, replay tells whether its writes pass their checks.",
    breaks="INSERT and COPY FROM of roles that are not the owner and have no policy (reads, "
    "updates and deletes come back empty: a risk).",
    recipe="Create the policies first (CREATE POLICY ... USING (true) for the app role), then "
    "enable RLS, then tighten the policies.",
    covers=(EnableRowLevelSecurity, ForceRowLevelSecurity),
    examples=(
        Example(
            "CREATE TABLE t (id int); CREATE ROLE sg_app; GRANT SELECT, INSERT ON t TO sg_app",
            "SET ROLE sg_app; INSERT INTO t (id) VALUES (1); RESET ROLE",
            "ALTER TABLE t ENABLE ROW LEVEL SECURITY",
            True,
            "the app role has no policy",
        ),
        Example(
            "CREATE TABLE t (id int); CREATE ROLE sg_app; GRANT SELECT, UPDATE ON t TO sg_app",
            "SET ROLE sg_app; SELECT id FROM t; UPDATE t SET id = 2 WHERE id = 1; RESET ROLE",
            "ALTER TABLE t ENABLE ROW LEVEL SECURITY",
            False,
            "no policy: the read and the update find no rows, which is no error",
        ),
        Example(
            "CREATE TABLE t (id int); CREATE TABLE u (id int)",
            "SELECT id FROM u",
            "ALTER TABLE t ENABLE ROW LEVEL SECURITY",
            False,
        ),
    ),
    check=check_rls,
)


_NEEDS = {
    "r": (F.RELATION_READ, F.COLUMN_READ, F.SELECT_STAR),  # RETURNING and WHERE read too
    "a": (F.INSERT_SHAPE, F.INSERT_POSITIONAL, F.COPY_IN),
    "w": (F.COLUMN_UPDATE,),
    "d": (F.ROW_DELETE,),
    "D": (F.TRUNCATE,),
}


def _on_table(table: str) -> Callable[[str], bool]:
    """Subjects of a table's facets: the table, its insert shapes, COPY lists and
    TRUNCATE options, and its columns."""
    prefixes = tuple(table + c for c in "(/|.")
    return lambda s: s == table or s.startswith(prefixes)


def _column_keeps(ctx: Context, change: Revoke, version: VersionKey, facet: Facet) -> bool:
    """Whether the use stays allowed through column privileges (GRANT UPDATE (col), GRANT
    SELECT (col)), the role's or PUBLIC's: an UPDATE of the facet's column, or a read of a
    version whose every column read of the table is still granted (and that reads no *)."""
    if facet.kind is F.COLUMN_UPDATE:
        return _column_granted(ctx, change, facet.subject, "w")
    if facet.kind is F.COLUMN_READ:
        return _column_granted(ctx, change, facet.subject, "r")
    if facet.kind is not F.RELATION_READ:
        return False
    used = ctx.footprints.get(version, {})
    if Facet(F.SELECT_STAR, change.subject) in used:
        return False
    reads = [
        f.subject
        for f in used
        if f.kind is F.COLUMN_READ and f.subject.startswith(change.subject + ".")
    ]
    return bool(reads) and all(_column_granted(ctx, change, s, "r") for s in reads)


def _column_granted(ctx: Context, change: Revoke, subject: str, privilege: str) -> bool:
    rel = relation_of(ctx.after, change.subject)
    column = rel.column(split_qualified_name(subject)[-1]) if rel is not None else None
    if column is None or column.acl is None:
        return False
    held = privileges_by_role(column.acl, "", "")
    return privilege in held.get(change.role, set()) | held.get("public", set())


def check_revoke(ctx: Context, change: Revoke) -> Iterator[Hit]:
    role = change.role
    what = f"REVOKE {change.privileges} ON {change.subject} FROM {role}"
    sequence = relation_of(ctx.before, change.subject) if change.relation else None
    if sequence is not None and sequence.kind is RelKind.SEQUENCE:
        if _can_take_numbers(ctx, change.subject, role):
            return
        uses = list(ctx.exact((F.SEQUENCE, F.SEQUENCE_DEFAULT), change.subject))
    elif change.relation:
        kinds = tuple({k for p in change.privileges for k in _NEEDS.get(p, ())})
        found = ctx.uses(kinds, _on_table(change.subject))
        uses = [(v, f, ev) for v, f, ev in found if not _column_keeps(ctx, change, v, f)]
    elif "U" in change.privileges:
        kinds = (F.RELATION_READ, F.RELATION_WRITE, F.FUNCTION, F.SEQUENCE)
        uses = list(ctx.uses(kinds, in_schema(change.subject)))
    else:
        return
    members = role_members(ctx.before.memberships or (), role)  # PUBLIC has none
    superusers = ctx.before.superusers or frozenset()
    for v, f, ev in first_per_version(uses):
        roles = ctx.roles(v)
        if roles and roles <= superusers:
            continue  # a superuser passes every privilege check
        if not roles:
            yield Hit(Severity.RISK, risks(what, v, f, "the version's role is unknown"), v, f, ev)
        elif role in roles and (holder := _still_held(ctx, change, f)) is not None:
            why = f"role {role} may still hold it through {holder}"
            yield Hit(Severity.RISK, risks(what, v, f, why), v, f, ev)
        elif role in roles:
            yield Hit(Severity.BREAK, breaks(what, v, f) + f" as role {role}", v, f, ev)
        elif roles & members:
            held = ", ".join(sorted(roles & members))
            yield Hit(
                Severity.RISK,
                risks(what, v, f, f"role {held} may hold it only as a member of {role}"),
                v,
                f,
                ev,
            )
        elif role == "public":
            yield Hit(
                Severity.RISK,
                risks(what, v, f, f"roles {', '.join(sorted(roles))} may have relied on PUBLIC"),
                v,
                f,
                ev,
            )


def _still_held(ctx: Context, change: Revoke, facet: Facet) -> str | None:
    """What the revoked role may still hold the lost privileges ``facet`` needs on the
    relation through after the change: PUBLIC, or a role it is a member of (its new
    owner, when ``ALTER ... OWNER TO`` moved it to a role the old owner belongs to);
    None when nothing."""
    rel = relation_of(ctx.after, change.subject) if change.relation else None
    if rel is None:
        return None
    family = "rwU" if rel.kind is RelKind.SEQUENCE else "arwdDxt"
    held = privileges_by_role(rel.acl, rel.owner or "owner", family)
    memberships = ctx.after.memberships or ()
    groups = sorted({g for g, _ in memberships if change.role in role_members(memberships, g)})
    needed = {p for p in change.privileges if facet.kind in _NEEDS.get(p, ())}
    for holder in ("public", *groups):
        if (needed or set(change.privileges)) <= held.get(holder, set()):
            return "PUBLIC" if holder == "public" else f"its membership in {holder}"
    return None


def _can_take_numbers(ctx: Context, sequence: str, role: str) -> bool:
    """Whether ``role`` may still call nextval on ``sequence``: USAGE or UPDATE, its own or
    PUBLIC's (the default of a column inserts rely on calls it too)."""
    after = relation_of(ctx.after, sequence)
    if after is None:
        return False
    held = privileges_by_role(after.acl, after.owner or "owner", "rwU")
    return bool((held.get(role, set()) | held.get("public", set())) & {"U", "w"})


REVOKE = Rule(
    id="SG120",
    name="privilege-revoked",
    severity=Severity.BREAK,
    summary="REVOKE of a privilege a version's role uses",
    doc="Without the privilege, statements fail with 42501 (permission denied). SELECT is "
    "needed to read (or SELECT on each column read, GRANT SELECT (col)), INSERT to insert, "
    "UPDATE to update (or UPDATE on each column set, GRANT UPDATE (col)), DELETE to delete, "
    "TRUNCATE to truncate, USAGE on a "
    "schema to name anything in it, USAGE or UPDATE on a sequence to take numbers from it "
    "(also through a column default). A version whose role holds the privilege as a member "
    "of the role it is revoked from (directly or through other roles), or through PUBLIC, "
    "and a role that keeps it through PUBLIC or a role it belongs to (an owner whose table "
    "moves, ALTER ... OWNER TO, to a role it is a member of), "
    "is a risk here: its statements are replayed as its role, and PostgreSQL tells whether "
    "another grant still covers them. A version whose every role is a superuser needs no "
    "privilege (the table's owner moving away from the superuser it runs as breaks nothing).",
    breaks="Statements of the role that need the revoked privilege.",
    recipe="Move every protected version to a role that keeps the privilege first.",
    covers=(Revoke,),
    examples=(
        Example(
            "CREATE TABLE t (id int); CREATE ROLE sg_app; GRANT SELECT ON t TO sg_app",
            "SET ROLE sg_app; SELECT id FROM t; RESET ROLE",
            "REVOKE SELECT ON t FROM sg_app",
            True,
        ),
        Example(
            "CREATE TABLE t (id int); CREATE ROLE sg_app; CREATE ROLE sg_admin;"
            " ALTER TABLE t OWNER TO sg_app; GRANT SELECT ON t TO PUBLIC",
            "SET ROLE sg_app; UPDATE t SET id = 2 WHERE id = 1; RESET ROLE",
            "ALTER TABLE t OWNER TO sg_admin",
            True,
            "the old owner loses its implicit privileges",
        ),
        Example(
            "CREATE TABLE t (id int); CREATE ROLE sg_app; CREATE ROLE sg_admin;"
            " ALTER TABLE t OWNER TO sg_app; GRANT SELECT ON t TO PUBLIC",
            "SET ROLE sg_app; SELECT id FROM t; RESET ROLE",
            "ALTER TABLE t OWNER TO sg_admin",
            False,
            "PUBLIC keeps SELECT: a risk, replayed as the role",
        ),
        Example(
            "CREATE TABLE t (id int); CREATE ROLE sg_app; GRANT SELECT, INSERT ON t TO sg_app",
            "SET ROLE sg_app; SELECT id FROM t; RESET ROLE",
            "REVOKE INSERT ON t FROM sg_app",
            False,
        ),
        Example(
            "CREATE TABLE t (id int, a text, b text); CREATE ROLE sg_app;"
            " GRANT SELECT, UPDATE ON t TO sg_app",
            "SET ROLE sg_app; UPDATE t SET a = 'x' WHERE id = 1; RESET ROLE",
            "REVOKE UPDATE ON t FROM sg_app; GRANT UPDATE (a) ON t TO sg_app",
            False,
            "the column's own privilege keeps the UPDATE of a allowed",
        ),
        Example(
            "CREATE TABLE t (id int, a text); CREATE ROLE sg_app;"
            " GRANT SELECT, INSERT ON t TO sg_app",
            "SET ROLE sg_app; INSERT INTO t (a) VALUES ('x') RETURNING *; RESET ROLE",
            "REVOKE SELECT ON t FROM sg_app; GRANT SELECT (id) ON t TO sg_app",
            True,
            "RETURNING * reads every column, and a only by the table privilege",
        ),
        Example(
            "CREATE TABLE t (id int, a text); CREATE ROLE sg_app;"
            " GRANT SELECT, INSERT ON t TO sg_app",
            "SET ROLE sg_app; INSERT INTO t (a) VALUES ('x') RETURNING id; RESET ROLE",
            "REVOKE SELECT ON t FROM sg_app; GRANT SELECT (id) ON t TO sg_app",
            False,
            "RETURNING id reads only the column still granted",
        ),
        Example(
            "CREATE TABLE t (id int, a text, b text); CREATE ROLE sg_app;"
            " GRANT SELECT, UPDATE ON t TO sg_app",
            "SET ROLE sg_app; UPDATE t SET b = 'x' WHERE id = 1; RESET ROLE",
            "REVOKE UPDATE ON t FROM sg_app; GRANT UPDATE (a) ON t TO sg_app",
            True,
            "b is not among the columns granted",
        ),
        Example(
            "CREATE TABLE t (id int, a text, b text); CREATE ROLE sg_app;"
            " GRANT SELECT ON t TO sg_app",
            "SET ROLE sg_app; SELECT a FROM t WHERE id = 1; RESET ROLE",
            "REVOKE SELECT ON t FROM sg_app; GRANT SELECT (id, a) ON t TO sg_app",
            False,
            "every column it reads keeps its own SELECT privilege",
        ),
        Example(
            "CREATE TABLE t (id int, a text, b text); CREATE ROLE sg_app;"
            " GRANT SELECT ON t TO sg_app",
            "SET ROLE sg_app; SELECT b FROM t WHERE id = 1; RESET ROLE",
            "REVOKE SELECT ON t FROM sg_app; GRANT SELECT (id, a) ON t TO sg_app",
            True,
            "b is not among the columns granted",
        ),
        Example(
            "CREATE TABLE t (id int, a text); CREATE ROLE sg_app;"
            " GRANT SELECT, INSERT, UPDATE ON t TO sg_app",
            "SET ROLE sg_app; INSERT INTO t (id, a) VALUES (1, 'x'); RESET ROLE",
            "REVOKE UPDATE ON t FROM sg_app",
            False,
            "an INSERT needs no UPDATE privilege",
        ),
        Example(
            "CREATE TABLE t (id serial, v text); CREATE ROLE sg_app;"
            " GRANT INSERT ON t TO sg_app; GRANT USAGE ON SEQUENCE t_id_seq TO sg_app",
            "SET ROLE sg_app; INSERT INTO t (v) VALUES ('a'); RESET ROLE",
            "REVOKE USAGE ON SEQUENCE t_id_seq FROM sg_app",
            True,
        ),
        Example(
            "CREATE TABLE t (id serial, v text); CREATE ROLE sg_app;"
            " GRANT INSERT ON t TO sg_app; GRANT USAGE, UPDATE ON SEQUENCE t_id_seq TO sg_app",
            "SET ROLE sg_app; INSERT INTO t (v) VALUES ('a'); RESET ROLE",
            "REVOKE USAGE ON SEQUENCE t_id_seq FROM sg_app",
            False,
        ),
    ),
    check=check_revoke,
)
