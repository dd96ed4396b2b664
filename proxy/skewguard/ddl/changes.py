"""Typed schema changes: what a DDL text changes, as other sessions see it at COMMIT.

One class for every kind keeps changes hashable and JSON-ready; ``kind`` says
which fields mean something. Subjects are rendered like facet subjects
(:func:`skewguard.catalog.qualified`, ``schema.table.column``) so rules compare
them to footprints with plain string equality.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Kind:
    """The change kinds (``Change.kind`` values)."""

    DROP_SCHEMA = "DropSchema"
    RENAME_SCHEMA = "RenameSchema"
    DROP_TABLE = "DropTable"
    DROP_VIEW = "DropView"
    DROP_MATVIEW = "DropMaterializedView"
    DROP_SEQUENCE = "DropSequence"
    RENAME_RELATION = "RenameRelation"  # the old name disappears (new in ``new``)
    SET_SCHEMA = "SetSchema"  # the old qualified name disappears (new in ``new``)
    REPLACE_RELATION = "ReplaceRelation"  # same name, now another kind (table -> view)
    ADD_COLUMN = "AddColumn"
    DROP_COLUMN = "DropColumn"
    RENAME_COLUMN = "RenameColumn"
    ALTER_COLUMN_TYPE = "AlterColumnType"
    SET_NOT_NULL = "SetNotNull"
    DROP_DEFAULT = "DropDefault"  # the column lost its default (or identity)
    ADD_CONSTRAINT = "AddConstraint"
    DROP_CONSTRAINT = "DropConstraint"
    RENAME_CONSTRAINT = "RenameConstraint"
    CREATE_INDEX = "CreateIndex"
    DROP_INDEX = "DropIndex"
    RENAME_INDEX = "RenameIndex"
    DROP_FUNCTION = "DropFunction"
    CREATE_FUNCTION = "CreateFunction"  # a new overload (may make calls ambiguous)
    DROP_TYPE = "DropType"
    ENUM_ADD_VALUE = "EnumAddValue"
    ENUM_RENAME_VALUE = "EnumRenameValue"
    ENUM_DROP_VALUE = "EnumDropValue"
    ENABLE_RLS = "EnableRowLevelSecurity"
    FORCE_RLS = "ForceRowLevelSecurity"
    DROP_POLICY = "DropPolicy"
    REVOKE = "Revoke"
    CREATE_RULE = "CreateRule"  # a rule now rewrites INSERT/UPDATE/DELETE on a relation
    UNMODELLED = "Unmodelled"  # statements the overlay could not model (judged by replay)


@dataclass(frozen=True, slots=True, order=True)
class Change:
    """One typed schema change.

    ``subject`` is the object the change is about (``public.users.email``);
    ``relation`` its table when it has one; ``old``/``new`` the values before
    and after (names, types); ``columns`` the columns involved (constraints,
    indexes); ``flags`` extra facts (``cascade``, ``not_null``, ``has_default``,
    ``validated``, ``concurrently``, ``binary_coercible``, ``widening``, ...);
    ``via`` the subject of the change whose CASCADE brought this one.
    """

    kind: str
    subject: str
    detail: str = ""
    relation: str = ""
    old: str = ""
    new: str = ""
    columns: tuple[str, ...] = ()
    flags: frozenset[str] = field(default_factory=frozenset)
    via: str = ""

    def has(self, flag: str) -> bool:
        return flag in self.flags

    def __str__(self) -> str:
        return f"{self.kind}({self.subject})"

    def describe(self) -> str:
        """The change in plain words, for people (``dropping column public.users.email``)."""
        phrase = _PHRASES.get(self.kind)
        if phrase is None:
            return str(self)
        return phrase.format(subject=self.subject, new=self.new or "?", old=self.old or "?")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "subject": self.subject}
        if self.detail:
            out["detail"] = self.detail
        for name in ("relation", "old", "new", "via"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.columns:
            out["columns"] = list(self.columns)
        if self.flags:
            out["flags"] = sorted(self.flags)
        return out


__all__ = ["Change", "Kind"]


_PHRASES: dict[str, str] = {
    Kind.UNMODELLED: "{subject}",
    Kind.DROP_SCHEMA: "dropping schema {subject}",
    Kind.RENAME_SCHEMA: "renaming schema {subject} to {new}",
    Kind.DROP_TABLE: "dropping table {subject}",
    Kind.DROP_VIEW: "dropping view {subject}",
    Kind.DROP_MATVIEW: "dropping materialized view {subject}",
    Kind.DROP_SEQUENCE: "dropping sequence {subject}",
    Kind.RENAME_RELATION: "renaming {subject} to {new}",
    Kind.SET_SCHEMA: "moving {subject} to {new}",
    Kind.REPLACE_RELATION: "replacing {subject} with another kind of relation",
    Kind.ADD_COLUMN: "adding column {subject}",
    Kind.DROP_COLUMN: "dropping column {subject}",
    Kind.RENAME_COLUMN: "renaming column {subject} to {new}",
    Kind.ALTER_COLUMN_TYPE: "changing the type of column {subject} to {new}",
    Kind.SET_NOT_NULL: "making column {subject} NOT NULL",
    Kind.DROP_DEFAULT: "dropping the default of column {subject}",
    Kind.ADD_CONSTRAINT: "adding constraint {subject}",
    Kind.DROP_CONSTRAINT: "dropping constraint {subject}",
    Kind.RENAME_CONSTRAINT: "renaming constraint {subject} to {new}",
    Kind.CREATE_INDEX: "creating index {subject}",
    Kind.DROP_INDEX: "dropping index {subject}",
    Kind.RENAME_INDEX: "renaming index {subject} to {new}",
    Kind.DROP_FUNCTION: "dropping function {subject}",
    Kind.CREATE_FUNCTION: "creating function {subject}",
    Kind.DROP_TYPE: "dropping type {subject}",
    Kind.ENUM_ADD_VALUE: "adding enum value {subject}",
    Kind.ENUM_RENAME_VALUE: "renaming enum value {subject} to {new}",
    Kind.ENUM_DROP_VALUE: "dropping enum value {subject}",
    Kind.ENABLE_RLS: "enabling row-level security on {subject}",
    Kind.FORCE_RLS: "forcing row-level security on {subject}",
    Kind.DROP_POLICY: "dropping policy {subject}",
    Kind.REVOKE: "revoking privileges on {subject}",
    Kind.CREATE_RULE: "creating a rule on {subject}",
}
