"""Row-level security policies, and GRANT / REVOKE on tables, sequences and schemas (ACLs as
aclitem text)."""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any

from pglast import enums

from skewguard.catalog import Policy, RelKind
from skewguard.ddl.affects import Affects, Use
from skewguard.ddl.errors import CannotModel, Rejected
from skewguard.ddl.model import Dependent, Holder, Model
from skewguard.ddl.overlay.calls import record_calls
from skewguard.ddl.overlay.columns import put_columns
from skewguard.ddl.overlay.names import find_rv
from skewguard.ddl.overlay.nodes import FUNC_OBJECTS, kind_word, name_list

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay

_O = enums.ObjectType


_PRIVS = {
    "select": "r",
    "insert": "a",
    "update": "w",
    "delete": "d",
    "truncate": "D",
    "references": "x",
    "trigger": "t",
    "usage": "U",
    "create": "C",
    "execute": "X",
    "maintain": "m",
    "temporary": "T",
    "connect": "c",
}


_ALL_PRIVS = {"table": "arwdDxt", "sequence": "rwU", "schema": "UC"}


def create_policy(ov: Overlay, m: Model, node: Any) -> None:
    oid = find_rv(ov, m, node.table)
    assert oid is not None
    rel = m.rels[oid]
    cmd = {"all": "*", "select": "r", "insert": "a", "update": "w", "delete": "d"}
    roles = tuple(
        "public" if r.roletype == enums.RoleSpecType.ROLESPEC_PUBLIC else str(r.rolename)
        for r in node.roles or ()
    ) or ("public",)
    pol = Policy(
        str(node.policy_name),
        cmd.get(str(node.cmd_name or "all"), "*"),
        roles,
        bool(node.permissive),
    )
    if not pol.permissive and rel.rls and ov.scope(m).existing(oid):
        raise CannotModel(
            f"CREATE POLICY {pol.name} AS RESTRICTIVE ON {rel.qname}: "
            "which rows it refuses is not modelled",
            affects=ov.scope(m).reach([oid], Use.ANY, rel.qname),
        )
    if any(p.name == pol.name for p in rel.policies):
        raise Rejected
    _replacing(ov, m, oid, pol)
    m.put_rel(oid, dataclasses.replace(rel, policies=(*rel.policies, pol)))
    record_calls(ov, m, Dependent(Holder.POLICY, oid, name=pol.name), [node.qual, node.with_check])


def _replacing(ov: Overlay, m: Model, oid: int, pol: Policy) -> None:
    """A policy created where the transaction dropped one of the table's own replaces it
    (DROP POLICY + CREATE POLICY, as ALTER POLICY cannot change the command): what its
    USING and WITH CHECK admit is not modelled, as for ALTER POLICY."""
    scope = ov.scope(m)
    before = scope.initial.rels.get(oid)
    if before is None or not before.rls:
        return
    dropped = {p.name for p in before.policies} - {p.name for p in m.rels[oid].policies}
    if dropped:
        raise CannotModel(
            f"CREATE POLICY {pol.name} ON {before.qname} replacing {', '.join(sorted(dropped))}:"
            " what the policies' USING and WITH CHECK admit is not modelled",
            affects=scope.reach([oid], Use.ANY, before.qname),
        )


def grant(ov: Overlay, m: Model, node: Any) -> None:
    t = node.objtype
    if t not in (_O.OBJECT_TABLE, _O.OBJECT_SEQUENCE, _O.OBJECT_SCHEMA):
        if node.is_grant or node.grant_option or t in _REVOKE_HARMLESS:
            return
        raise CannotModel(
            f"REVOKE on {kind_word(t)}: its privileges are not modelled",
            affects=_revoked_reach(ov, m, node),
        )
    if not node.is_grant and node.grant_option:
        return  # REVOKE GRANT OPTION FOR: the privilege itself stays
    if any(p.cols for p in node.privileges or ()):
        if node.is_grant:
            _grant_columns(ov, m, node)
            return
        kinds = {str(p.priv_name).lower() for p in node.privileges or ()}
        use = Use.READS if kinds == {"select"} else Use.ANY
        use = Use.WRITES if kinds <= {"insert", "update"} else use
        oids = [find_rv(ov, m, rv, True) for rv in node.objects or ()]
        raise CannotModel(
            "REVOKE of column privileges: column ACLs are not modelled",
            affects=ov.scope(m).reach([o for o in oids if o is not None], use),
        )
    targets: list[tuple[str, int]] = []
    if node.targtype == enums.GrantTargetType.ACL_TARGET_ALL_IN_SCHEMA:
        schemas = {str(s.sval) for s in node.objects or ()}
        want = RelKind.SEQUENCE if t == _O.OBJECT_SEQUENCE else None
        for oid, rel in m.rels.items():
            if rel.schema in schemas and (
                (rel.kind == want) if want else rel.kind != RelKind.SEQUENCE
            ):
                targets.append(("rel", oid))
    elif t in (_O.OBJECT_TABLE, _O.OBJECT_SEQUENCE):
        for rv in node.objects or ():
            r_oid = find_rv(ov, m, rv)
            assert r_oid is not None
            targets.append(("rel", r_oid))
    elif t == _O.OBJECT_SCHEMA:
        for s in node.objects or ():
            if str(s.sval) not in m.schemas:
                raise Rejected
            targets.append(("schema", m.schemas[str(s.sval)]))
    else:
        return
    grantees = [
        "" if g.roletype == enums.RoleSpecType.ROLESPEC_PUBLIC else str(g.rolename)
        for g in node.grantees or ()
    ]
    for what, oid in targets:
        if what == "rel":
            rel = m.rels[oid]
            family = "sequence" if rel.kind == RelKind.SEQUENCE else "table"
            privs = _privilege_letters(node.privileges, family)
            acl = _edit_acl(rel.acl, rel.owner or "owner", grantees, privs, node.is_grant)
            m.put_rel(oid, dataclasses.replace(rel, acl=acl))
        else:
            privs = _privilege_letters(node.privileges, "schema")
            owner = "owner"
            m.schema_acls[oid] = _edit_acl(
                m.schema_acls.get(oid), owner, grantees, privs, node.is_grant
            )


def _grant_columns(ov: Overlay, m: Model, node: Any) -> None:
    """GRANT ... (columns) ON a table: the columns' own ACLs."""
    grantees = [
        "" if g.roletype == enums.RoleSpecType.ROLESPEC_PUBLIC else str(g.rolename)
        for g in node.grantees or ()
    ]
    for rv in node.objects or ():
        oid = find_rv(ov, m, rv)
        assert oid is not None
        rel = m.rels[oid]
        for priv in node.privileges or ():
            names = {str(c.sval) for c in priv.cols or ()}
            letters = _privilege_letters([priv], "table")
            cols = [
                dataclasses.replace(
                    c, acl=_edit_acl(c.acl or (), rel.owner or "owner", grantees, letters, True)
                )
                if c.name in names
                else c
                for c in m.rels[oid].columns
            ]
            put_columns(m, oid, cols)


def _revoked_reach(ov: Overlay, m: Model, node: Any) -> Affects | None:
    """What a REVOKE on functions or types reaches: their callers, the relations with
    columns of the type (None: unknown, or nothing found)."""
    scope = ov.scope(m)
    if node.objtype in (_O.OBJECT_TYPE, _O.OBJECT_DOMAIN):
        typed = [scope.type_reach(name_list(t), Use.ANY) for t in node.objects or ()]
        return functools.reduce(Affects.merge, typed) if typed else None
    if node.objtype not in FUNC_OBJECTS:
        return None
    names: set[tuple[str, ...]]
    if node.targtype == enums.GrantTargetType.ACL_TARGET_ALL_IN_SCHEMA:
        schemas = {str(s.sval) for s in node.objects or ()}
        names = {(f.schema, f.name) for f in m.funcs.values() if f.schema in schemas}
    else:
        names = {tuple(name_list(owa.objname)) for owa in node.objects or ()}
    reaches = [scope.function_reach(list(n)) for n in sorted(names)]
    known = [r for r in reaches if r is not None]
    if not known:
        return None
    return functools.reduce(Affects.merge, known)


def _privilege_letters(privileges: Any, family: str) -> str:
    if not privileges:
        return _ALL_PRIVS[family]
    return "".join(_PRIVS.get(str(p.priv_name).lower(), "") for p in privileges)


def _edit_acl(
    acl: tuple[str, ...] | None, owner: str, grantees: list[str], privs: str, grant: bool
) -> tuple[str, ...]:
    """GRANT/REVOKE ``privs`` for ``grantees`` on an ACL (None = owner has everything)."""
    items: dict[str, tuple[str, str]] = {}  # grantee -> (privs, grantor)
    if acl is None:
        items[owner] = ("arwdDxt", owner)
    else:
        for item in acl:
            who, _, rest = item.partition("=")
            p, _, grantor = rest.partition("/")
            items[who] = (p, grantor)
    for g in grantees:
        have, grantor = items.get(g, ("", owner))
        if grant:
            have += "".join(c for c in privs if c not in have)
        else:
            have = "".join(c for c in have if c.replace("*", "") not in privs)
        items[g] = (have, grantor)
    return tuple(f"{who}={p}/{grantor}" for who, (p, grantor) in items.items() if p)


# USAGE on a language is checked only by CREATE FUNCTION and DO (DDL, judged when a
# version sends it), never when an existing function runs.
_REVOKE_HARMLESS = frozenset({_O.OBJECT_TABLESPACE, _O.OBJECT_PARAMETER_ACL, _O.OBJECT_LANGUAGE})
