"""Typed schema changes: what a DDL text changes, as other sessions see it at COMMIT.

One frozen dataclass per kind of change, holding only the facts that mean
something for that kind; rules dispatch on the type, so a rule cannot read a
field its kind does not have. Subjects are rendered like facet subjects
(:func:`skewguard.catalog.qualified`, ``schema.table.column``) so rules compare
them to footprints with plain string equality.

``to_dict`` writes the shape the audit, the admin API and the state store have
always stored (``kind``, ``subject`` and, when set, ``detail``, ``relation``,
``old``, ``new``, ``via``, ``columns``, ``flags``): stored audits stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, NamedTuple

from skewguard.catalog import FuncKind, RelKind


class ConstraintType(StrEnum):
    """pg_constraint.contype of the constraints the catalog follows."""

    PRIMARY = "p"
    UNIQUE = "u"
    FOREIGN = "f"
    CHECK = "c"
    EXCLUSION = "x"


class _Stored(NamedTuple):
    """A change's kind-specific facts under their stored names (see ``to_dict``)."""

    detail: str = ""
    old: str = ""
    new: str = ""
    columns: tuple[str, ...] = ()
    flags: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class Change:
    """What every change has: its subject (``public.users.email``), the table it is on
    when it has one, and the subject of the change whose CASCADE brought it."""

    subject: str
    relation: str = field(default="", kw_only=True)
    via: str = field(default="", kw_only=True)

    #: How people read it; ``{subject}`` and ``{new}`` (the stored ``new``) are filled in.
    PHRASE: ClassVar[str] = "{subject}"

    @property
    def kind(self) -> str:
        """The kind's name, as stored (``DropColumn``)."""
        return type(self).__name__

    def __str__(self) -> str:
        return f"{self.kind}({self.subject})"

    @property
    def cascade_note(self) -> str:
        """`` (CASCADE from public.t)`` when another drop's CASCADE brought it, else ``""``."""
        return f" (CASCADE from {self.via})" if self.via else ""

    def describe(self) -> str:
        """The change in plain words, for people (``dropping column public.users.email``)."""
        return self.PHRASE.format(subject=self.subject, new=self._stored().new or "?")

    def names(self) -> tuple[str, ...]:
        """Every name the change mentions (subject, table, old and new names, via)."""
        stored = self._stored()
        return tuple(
            n for n in (self.subject, self.relation, stored.new, stored.old, self.via) if n
        )

    def to_dict(self) -> dict[str, Any]:
        stored = self._stored()
        out: dict[str, Any] = {"kind": self.kind, "subject": self.subject}
        if stored.detail:
            out["detail"] = stored.detail
        for name, value in (
            ("relation", self.relation),
            ("old", stored.old),
            ("new", stored.new),
            ("via", self.via),
        ):
            if value:
                out[name] = value
        if stored.columns:
            out["columns"] = list(stored.columns)
        flags = sorted(name for name, on in stored.flags if on)
        if flags:
            out["flags"] = flags
        return out

    def _stored(self) -> _Stored:
        return _Stored()


@dataclass(frozen=True, slots=True)
class Unmodelled(Change):
    """Statements the overlay could not model (judged by replay); the subject says why."""


@dataclass(frozen=True, slots=True)
class DropSchema(Change):
    PHRASE: ClassVar[str] = "dropping schema {subject}"


@dataclass(frozen=True, slots=True)
class RenameSchema(Change):
    new_name: str  # rendered with ident

    PHRASE: ClassVar[str] = "renaming schema {subject} to {new}"

    def _stored(self) -> _Stored:
        return _Stored(new=self.new_name)


@dataclass(frozen=True, slots=True)
class DropRelation(Change):
    """A relation that goes (its ``relation`` is its own name); ``via`` set: by CASCADE."""

    relkind: RelKind

    #: The statement that drops it.
    SQL: ClassVar[str] = "DROP TABLE"

    @property
    def cascade(self) -> bool:
        return bool(self.via)

    def _stored(self) -> _Stored:
        return _Stored(detail=self.relkind.value, flags=(("cascade", self.cascade),))


@dataclass(frozen=True, slots=True)
class DropTable(DropRelation):
    PHRASE: ClassVar[str] = "dropping table {subject}"


@dataclass(frozen=True, slots=True)
class DropView(DropRelation):
    PHRASE: ClassVar[str] = "dropping view {subject}"
    SQL: ClassVar[str] = "DROP VIEW"


@dataclass(frozen=True, slots=True)
class DropMaterializedView(DropRelation):
    PHRASE: ClassVar[str] = "dropping materialized view {subject}"
    SQL: ClassVar[str] = "DROP MATERIALIZED VIEW"


@dataclass(frozen=True, slots=True)
class DropSequence(DropRelation):
    PHRASE: ClassVar[str] = "dropping sequence {subject}"
    SQL: ClassVar[str] = "DROP SEQUENCE"


@dataclass(frozen=True, slots=True)
class DetachPartition(Change):
    """A partition (the subject) left a table that stays (``relation``), dropped or
    detached: a row for its bounds fails (23514) unless a default partition takes it."""

    PHRASE: ClassVar[str] = "removing partition {subject}"


@dataclass(frozen=True, slots=True)
class AttachPartition(Change):
    """A partition (the subject) joined a table that stays (``relation``), created or
    attached: its bounds leave the default partition, so a row written straight into
    the default for those bounds fails (23514)."""

    PHRASE: ClassVar[str] = "adding partition {subject}"


@dataclass(frozen=True, slots=True)
class MoveRelation(Change):
    """The relation's old qualified name disappears; ``new_name`` is where it went."""

    relkind: RelKind
    new_name: str

    def _stored(self) -> _Stored:
        return _Stored(detail=self.relkind.value, new=self.new_name)


@dataclass(frozen=True, slots=True)
class CreateRelation(Change):
    """A new table, view or sequence: its name may take over a bare name versions use."""

    relkind: RelKind

    PHRASE: ClassVar[str] = "creating {subject}"

    def _stored(self) -> _Stored:
        return _Stored(detail=self.relkind.value)


@dataclass(frozen=True, slots=True)
class RenameRelation(MoveRelation):
    PHRASE: ClassVar[str] = "renaming {subject} to {new}"


@dataclass(frozen=True, slots=True)
class SetSchema(MoveRelation):
    PHRASE: ClassVar[str] = "moving {subject} to {new}"


@dataclass(frozen=True, slots=True)
class ReplaceRelation(Change):
    """The same name now names another kind of relation (a table became a view)."""

    old_kind: RelKind
    new_kind: RelKind
    updatable: bool  # the new relation takes INSERT/UPDATE/DELETE

    PHRASE: ClassVar[str] = "replacing {subject} with another kind of relation"

    def _stored(self) -> _Stored:
        return _Stored(
            old=self.old_kind.value,
            new=self.new_kind.value,
            flags=(("updatable", self.updatable),),
        )


@dataclass(frozen=True, slots=True)
class ReorderColumns(Change):
    """The columns a relation keeps come in another order (a view dropped and created
    again with its columns listed otherwise): ``*`` and statements that go by position
    see another row; ``order`` is their new order."""

    order: tuple[str, ...]

    PHRASE: ClassVar[str] = "reordering the columns of {subject}"

    def _stored(self) -> _Stored:
        return _Stored(columns=self.order)


@dataclass(frozen=True, slots=True)
class AddColumn(Change):
    type_name: str
    not_null: bool = False
    has_default: bool = False
    volatile_default: bool = False  # the table is rewritten to fill it
    generated: bool = False
    #: the DEFAULT expression (probed, never stored: it may hold the client's literals)
    default: str | None = field(default=None, compare=False)

    PHRASE: ClassVar[str] = "adding column {subject}"

    def _stored(self) -> _Stored:
        return _Stored(
            new=self.type_name,
            flags=(
                ("not_null", self.not_null),
                ("has_default", self.has_default),
                ("volatile_default", self.volatile_default),
                ("generated", self.generated),
            ),
        )


@dataclass(frozen=True, slots=True)
class DropColumn(Change):
    type_name: str

    PHRASE: ClassVar[str] = "dropping column {subject}"

    def _stored(self) -> _Stored:
        return _Stored(old=self.type_name)


@dataclass(frozen=True, slots=True)
class RenameColumn(Change):
    old_name: str  # bare column names, as in the catalog
    new_name: str

    PHRASE: ClassVar[str] = "renaming column {subject} to {new}"

    def _stored(self) -> _Stored:
        return _Stored(old=self.old_name, new=self.new_name)


@dataclass(frozen=True, slots=True)
class AlterColumnType(Change):
    old_type: str
    new_type: str
    binary_coercible: bool  # no rewrite of the table
    widening: bool  # every value of the old type fits the new one

    PHRASE: ClassVar[str] = "changing the type of column {subject} to {new}"

    def _stored(self) -> _Stored:
        return _Stored(
            old=self.old_type,
            new=self.new_type,
            flags=(("binary_coercible", self.binary_coercible), ("widening", self.widening)),
        )


@dataclass(frozen=True, slots=True)
class SetNotNull(Change):
    has_default: bool

    PHRASE: ClassVar[str] = "making column {subject} NOT NULL"

    def _stored(self) -> _Stored:
        return _Stored(flags=(("has_default", self.has_default),))


@dataclass(frozen=True, slots=True)
class SetGenerated(Change):
    """The column is now generated (dropped and added again, or its name taken by a new
    generated column): a value written to it is refused (428C9)."""

    PHRASE: ClassVar[str] = "making column {subject} a generated column"


@dataclass(frozen=True, slots=True)
class DropExpression(Change):
    """A generated column became a plain one (DROP EXPRESSION): COPY FROM without a
    column list, which left it out, must now send it (22P04 missing data)."""

    PHRASE: ClassVar[str] = "making generated column {subject} a plain one"


@dataclass(frozen=True, slots=True)
class SetIdentityAlways(Change):
    """The column is now an identity GENERATED ALWAYS (added, or SET from BY DEFAULT): a
    value an INSERT or UPDATE gives it is refused (428C9); COPY FROM, OVERRIDING SYSTEM
    VALUE and DEFAULT still pass."""

    PHRASE: ClassVar[str] = "making column {subject} an identity GENERATED ALWAYS"


@dataclass(frozen=True, slots=True)
class AlterSequence(Change):
    """ALTER SEQUENCE set what changes the numbers nextval returns (RESTART, INCREMENT,
    MAXVALUE, MINVALUE, AS, NO CYCLE): ``options`` as (name, value) pairs (value empty for
    NO MAXVALUE / NO MINVALUE / RESTART without WITH); ``unique_columns``: the columns a
    default draws numbers from it into that a unique index checks alone."""

    options: tuple[tuple[str, str], ...]
    unique_columns: tuple[str, ...] = ()

    PHRASE: ClassVar[str] = "changing what nextval returns from sequence {subject} ({new})"

    def _stored(self) -> _Stored:
        shown = ", ".join(f"{k.upper()} {v}".strip() for k, v in self.options)
        return _Stored(new=shown, columns=self.unique_columns)


@dataclass(frozen=True, slots=True)
class DropDefault(Change):
    """The column lost its default (or identity); ``via`` set: by CASCADE."""

    default: str  # the expression it had
    not_null: bool  # an INSERT omitting the column now fails

    PHRASE: ClassVar[str] = "dropping the default of column {subject}"

    @property
    def cascade(self) -> bool:
        return bool(self.via)

    def _stored(self) -> _Stored:
        return _Stored(
            old=self.default, flags=(("not_null", self.not_null), ("cascade", self.cascade))
        )


@dataclass(frozen=True, slots=True)
class ChangeDefault(Change):
    """The column's default became another expression: an INSERT omitting the column
    now writes a value a CHECK, domain, key or trigger may refuse."""

    default: str  # the expression it had
    new_default: str

    PHRASE: ClassVar[str] = "changing the default of column {subject}"

    def _stored(self) -> _Stored:
        return _Stored(old=self.default, new=self.new_default)


@dataclass(frozen=True, slots=True)
class AddConstraint(Change):
    contype: ConstraintType
    columns: tuple[str, ...]
    definition: str  # pg_get_constraintdef: ``CHECK (price > 0)``, ``FOREIGN KEY ...``
    ref_table: str = ""  # foreign keys: the qualified referenced table
    validated: bool = True  # False: NOT VALID

    PHRASE: ClassVar[str] = "adding constraint {subject}"

    def _stored(self) -> _Stored:
        return _Stored(
            detail=self.contype.value,
            old=self.ref_table,
            new=self.definition,
            columns=self.columns,
            flags=(("validated", self.validated),),
        )


@dataclass(frozen=True, slots=True)
class DropConstraint(Change):
    contype: ConstraintType
    columns: tuple[str, ...]

    PHRASE: ClassVar[str] = "dropping constraint {subject}"

    def _stored(self) -> _Stored:
        return _Stored(detail=self.contype.value, columns=self.columns)


@dataclass(frozen=True, slots=True)
class SetDeferrable(Change):
    """ALTER CONSTRAINT changed when the constraint is checked: at each statement or, when
    ``deferrable``, at COMMIT once deferred (from the start: ``initially_deferred``)."""

    deferrable: bool
    initially_deferred: bool

    PHRASE: ClassVar[str] = "changing when constraint {subject} is checked"

    def _stored(self) -> _Stored:
        flags = (("deferrable", self.deferrable), ("initially_deferred", self.initially_deferred))
        return _Stored(flags=flags)


@dataclass(frozen=True, slots=True)
class ReplicaIdentityLost(Change):
    """A table whose UPDATEs (``updates``) or DELETEs (``deletes``) PostgreSQL now refuses
    (55000): a publication publishes them and the table has no replica identity (a
    publication added, its actions widened, the primary key or identity index dropped,
    REPLICA IDENTITY NOTHING)."""

    updates: bool
    deletes: bool

    PHRASE: ClassVar[str] = "leaving published table {subject} without a replica identity"

    def _stored(self) -> _Stored:
        return _Stored(flags=(("updates", self.updates), ("deletes", self.deletes)))


@dataclass(frozen=True, slots=True)
class RenameConstraint(Change):
    contype: ConstraintType
    columns: tuple[str, ...]
    old_name: str
    new_name: str

    PHRASE: ClassVar[str] = "renaming constraint {subject} to {new}"

    def _stored(self) -> _Stored:
        return _Stored(
            detail=self.contype.value, old=self.old_name, new=self.new_name, columns=self.columns
        )


@dataclass(frozen=True, slots=True)
class IndexChange(Change):
    """What every index change says about the index."""

    columns: tuple[str, ...]  # the keys: column names, or expressions
    unique: bool = False
    primary: bool = False
    concurrently: bool = False

    def _flags(self) -> tuple[tuple[str, bool], ...]:
        return (
            ("unique", self.unique),
            ("primary", self.primary),
            ("concurrently", self.concurrently),
        )


@dataclass(frozen=True, slots=True)
class CreateIndex(IndexChange):
    predicate: str = ""  # a partial index's WHERE
    constraint: bool = False  # built for a constraint (reported as AddConstraint too)

    PHRASE: ClassVar[str] = "creating index {subject}"

    def _stored(self) -> _Stored:
        return _Stored(
            detail=self.predicate,
            columns=self.columns,
            flags=(*self._flags(), ("constraint", self.constraint)),
        )


@dataclass(frozen=True, slots=True)
class DropIndex(IndexChange):
    predicate: str = ""

    PHRASE: ClassVar[str] = "dropping index {subject}"

    def _stored(self) -> _Stored:
        return _Stored(detail=self.predicate, columns=self.columns, flags=self._flags())


@dataclass(frozen=True, slots=True)
class RenameIndex(IndexChange):
    old_name: str = field(kw_only=True)
    new_name: str = field(kw_only=True)

    PHRASE: ClassVar[str] = "renaming index {subject} to {new}"

    def _stored(self) -> _Stored:
        return _Stored(
            old=self.old_name, new=self.new_name, columns=self.columns, flags=self._flags()
        )


@dataclass(frozen=True, slots=True)
class DropFunction(Change):
    """The signature disappears; ``moved_to``: its new signature (renamed or moved)."""

    func_kind: FuncKind
    moved_to: str = ""

    PHRASE: ClassVar[str] = "dropping function {subject}"

    def _stored(self) -> _Stored:
        return _Stored(detail=self.func_kind.value, new=self.moved_to)


@dataclass(frozen=True, slots=True)
class ReplaceFunction(Change):
    """The same signature defined again (dropped and created in one transaction): fewer
    argument defaults, renamed arguments, a VARIADIC dropped or another result type fail
    calls that relied on the old one."""

    old_result: str
    new_result: str
    fewer_defaults: bool
    renamed_args: bool = False
    #: Only the OUT / RETURNS TABLE columns change (the declared type stays ``record``):
    #: whether a caller notices depends on the columns it reads, which PostgreSQL judges
    #: by replay.
    reshaped: bool = False
    #: The last argument was VARIADIC and is not: a call spreading its values over it
    #: (``f(1, 2, 3)``) fails; one passing ``VARIADIC ARRAY[...]`` still matches.
    lost_variadic: bool = False
    #: What the planner inlines of it changes (another body, volatility or strictness of
    #: an SQL function; see :func:`skewguard.catalog.inline_key`): an index expression
    #: over it stays cached with the old expansion on open connections.
    new_body: bool = False
    #: A procedure gained an OUT parameter: a CALL passes an argument for each since
    #: PostgreSQL 14, so a CALL written for the old definition has too few (42883).
    more_call_args: bool = False

    PHRASE: ClassVar[str] = "redefining function {subject}"

    @property
    def signature_kept(self) -> bool:
        """Only the body changes: callers resolve and read the call as before."""
        return (
            self.old_result == self.new_result
            and not (self.fewer_defaults or self.renamed_args or self.reshaped)
            and not (self.lost_variadic or self.more_call_args)
        )

    def _stored(self) -> _Stored:
        return _Stored(
            old=self.old_result,
            new=self.new_result,
            flags=(
                ("fewer_defaults", self.fewer_defaults),
                ("renamed_args", self.renamed_args),
                ("reshaped", self.reshaped),
                ("lost_variadic", self.lost_variadic),
                ("new_body", self.new_body),
                ("more_call_args", self.more_call_args),
            ),
        )


@dataclass(frozen=True, slots=True)
class CreateFunction(Change):
    """A new overload (it may make calls ambiguous)."""

    func_kind: FuncKind
    arg_types: tuple[str, ...]

    PHRASE: ClassVar[str] = "creating function {subject}"

    def _stored(self) -> _Stored:
        return _Stored(detail=self.func_kind.value, columns=self.arg_types)


@dataclass(frozen=True, slots=True)
class DropType(Change):
    """A user type (an enum, with its ``labels``; a domain, composite or range type)
    disappears; ``moved_to``: its new name (renamed or moved)."""

    labels: tuple[str, ...]
    moved_to: str = ""

    PHRASE: ClassVar[str] = "dropping type {subject}"

    def _stored(self) -> _Stored:
        return _Stored(detail="enum", new=self.moved_to, columns=self.labels)


@dataclass(frozen=True, slots=True)
class DropNamedObject(Change):
    """A text search configuration or collation (``kind``: its facet kind, ``ts_config``
    or ``collation``) dropped, or renamed to ``new_name``: expressions name them by name
    (``to_tsvector('app_english', body)``, ``COLLATE app_ci``). ``subject`` is the name as
    the statement wrote it (qualified or not)."""

    object_kind: str
    new_name: str = ""

    PHRASE: ClassVar[str] = "dropping {subject}"

    def _stored(self) -> _Stored:
        return _Stored(detail=self.object_kind, new=self.new_name)


@dataclass(frozen=True, slots=True)
class DropOperator(Change):
    """A user operator's signature (``public.===(text,text)``) disappears; ``moved_to``:
    its signature in the schema it moved to."""

    moved_to: str = ""

    PHRASE: ClassVar[str] = "dropping operator {subject}"

    def _stored(self) -> _Stored:
        return _Stored(new=self.moved_to)


@dataclass(frozen=True, slots=True)
class RecreateEnum(Change):
    """An enum dropped and created again under its name (Prisma's enum migration): the
    name stays, the oid does not, and a statement kept prepared holds the old one."""

    PHRASE: ClassVar[str] = "recreating enum {subject}"


@dataclass(frozen=True, slots=True)
class EnumAddValue(Change):
    label: str

    PHRASE: ClassVar[str] = "adding enum value {subject}"

    def _stored(self) -> _Stored:
        return _Stored(new=self.label)


@dataclass(frozen=True, slots=True)
class EnumRenameValue(Change):
    old_label: str
    new_label: str

    PHRASE: ClassVar[str] = "renaming enum value {subject} to {new}"

    def _stored(self) -> _Stored:
        return _Stored(old=self.old_label, new=self.new_label)


@dataclass(frozen=True, slots=True)
class EnumDropValue(Change):
    label: str

    PHRASE: ClassVar[str] = "dropping enum value {subject}"

    def _stored(self) -> _Stored:
        return _Stored(old=self.label)


@dataclass(frozen=True, slots=True)
class EnableRowLevelSecurity(Change):
    policies: int
    roles: tuple[str, ...]  # the roles the table's policies name

    PHRASE: ClassVar[str] = "enabling row-level security on {subject}"

    def _stored(self) -> _Stored:
        return _Stored(detail=f"{self.policies} policies", columns=self.roles)


@dataclass(frozen=True, slots=True)
class ForceRowLevelSecurity(Change):
    PHRASE: ClassVar[str] = "forcing row-level security on {subject}"


@dataclass(frozen=True, slots=True)
class DropPolicy(Change):
    roles: tuple[str, ...]

    PHRASE: ClassVar[str] = "dropping policy {subject}"

    def _stored(self) -> _Stored:
        return _Stored(columns=self.roles)


@dataclass(frozen=True, slots=True)
class Revoke(Change):
    """Privileges a role lost on a relation (``relation`` set) or a schema."""

    role: str
    privileges: str  # aclitem letters: ``r`` SELECT, ``a`` INSERT, ``U`` USAGE ...

    PHRASE: ClassVar[str] = "revoking privileges on {subject}"

    def _stored(self) -> _Stored:
        return _Stored(detail=self.privileges, new=self.role)


@dataclass(frozen=True, slots=True)
class CreateRule(Change):
    """A rule now rewrites INSERT/UPDATE/DELETE on a relation."""

    event: str  # insert, update, delete
    instead: bool = False
    nothing: bool = False
    conditional: bool = False

    PHRASE: ClassVar[str] = "creating a rule on {subject}"

    def _stored(self) -> _Stored:
        return _Stored(
            detail=self.event,
            flags=(
                ("instead", self.instead),
                ("nothing", self.nothing),
                ("conditional", self.conditional),
            ),
        )


__all__ = [
    "AddColumn",
    "AddConstraint",
    "AlterColumnType",
    "AlterSequence",
    "AttachPartition",
    "Change",
    "ChangeDefault",
    "ConstraintType",
    "CreateFunction",
    "CreateIndex",
    "CreateRule",
    "DetachPartition",
    "DropColumn",
    "DropConstraint",
    "DropDefault",
    "DropExpression",
    "DropFunction",
    "DropIndex",
    "DropMaterializedView",
    "DropNamedObject",
    "DropPolicy",
    "DropRelation",
    "DropSchema",
    "DropSequence",
    "DropTable",
    "DropType",
    "DropView",
    "EnableRowLevelSecurity",
    "EnumAddValue",
    "EnumDropValue",
    "EnumRenameValue",
    "ForceRowLevelSecurity",
    "IndexChange",
    "MoveRelation",
    "RecreateEnum",
    "RenameColumn",
    "RenameConstraint",
    "RenameIndex",
    "RenameRelation",
    "RenameSchema",
    "ReplaceFunction",
    "ReplaceRelation",
    "ReplicaIdentityLost",
    "Revoke",
    "SetGenerated",
    "SetIdentityAlways",
    "SetNotNull",
    "SetSchema",
    "Unmodelled",
]
