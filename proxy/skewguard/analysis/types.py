"""Type names as ``format_type()`` prints them, for call-site argument types.

Function facets carry argument types so a rule can tell which overload a call
reaches; the text must match the catalog's (``integer``, ``character varying``,
``public.mood``), whatever spelling the query used (``int4``, ``varchar(20)``).
"""

from __future__ import annotations

from collections.abc import Sequence

from pglast import ast

from skewguard.catalog import CatalogSnapshot

UNKNOWN = "unknown"

# Internal names (as the grammar produces them) -> format_type output.
_BUILTIN_NAMES = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "bpchar": "character",
    "varchar": "character varying",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "varbit": "bit varying",
    "char": '"char"',
    "decimal": "numeric",
    "int": "integer",
    "integer": "integer",
    "smallint": "smallint",
    "bigint": "bigint",
    "real": "real",
    "boolean": "boolean",
}

#: More built-in type names a query may spell bare; with the above, never a relation's
#: row type (pg_catalog is searched first for types too, so a table named like one is not
#: what a cast names).
_OTHER_BUILTINS = frozenset(
    {
        "text", "numeric", "date", "interval", "json", "jsonb", "uuid", "bytea", "xml",
        "inet", "cidr", "macaddr", "money", "point", "line", "lseg", "box", "path",
        "polygon", "circle", "tsvector", "tsquery", "record", "regclass", "oid", "name",
    }
)  # fmt: skip

_INTEGERS = ("smallint", "integer", "bigint")
_NUMERICS = (*_INTEGERS, "numeric", "real", "double precision")
_STRINGS = ("text", "character varying", "character", "name", '"char"')
_POLYMORPHIC_PREFIXES = ("any",)  # any, anyelement, anyarray, anycompatible, ...

_INT4_MAX = 2**31 - 1
_INT8_MAX = 2**63 - 1


def _names(type_name: ast.TypeName) -> tuple[str, ...]:
    return tuple(str(n.sval) for n in type_name.names or () if isinstance(n, ast.String))


def type_text(type_name: ast.TypeName, catalog: CatalogSnapshot, search_path: Sequence[str]) -> str:
    """Canonical text of a written type (typmods dropped, arrays kept)."""
    names = _names(type_name)
    base = UNKNOWN
    if len(names) == 2 and names[0] == "pg_catalog":
        base = _BUILTIN_NAMES.get(names[1], names[1])
    elif len(names) == 2:
        e = catalog.enum(names[0], names[1])
        base = e.type_name if e is not None else f"{names[0]}.{names[1]}"
    elif len(names) == 1:
        e = catalog.find_enum(names[0], search_path)
        base = e.type_name if e is not None else _BUILTIN_NAMES.get(names[0], names[0])
    if type_name.arrayBounds:
        base += "[]"
    return base


def is_builtin_type_name(name: str) -> bool:
    """Whether a bare type name is a common built-in type's (a partial list: it only keeps
    a cast from being read as naming a same-named relation's row type)."""
    return name in _BUILTIN_NAMES or name in _OTHER_BUILTINS


def enum_of_type(
    type_name: ast.TypeName, catalog: CatalogSnapshot, search_path: Sequence[str]
) -> str | None:
    """The enum's type text if ``type_name`` names a known enum (not an array of one)."""
    if type_name.arrayBounds:
        return None
    return enum_named(type_name, catalog, search_path)


def enum_named(
    type_name: ast.TypeName, catalog: CatalogSnapshot, search_path: Sequence[str]
) -> str | None:
    """The enum's type text if ``type_name`` names a known enum, or an array of one."""
    names = _names(type_name)
    if len(names) == 2:
        e = catalog.enum(names[0], names[1])
    elif len(names) == 1:
        e = catalog.find_enum(names[0], search_path)
    else:
        e = None
    return e.type_name if e is not None else None


def type_named(
    type_name: ast.TypeName, catalog: CatalogSnapshot, search_path: Sequence[str]
) -> str | None:
    """The qualified name of the user type ``type_name`` names (an enum, a domain, a
    composite or range type), or of the type of an array of it."""
    return enum_named(type_name, catalog, search_path) or catalog.find_type(
        _names(type_name), search_path
    )


def const_type(const: ast.A_Const) -> str:
    """The type PostgreSQL gives a bare literal (strings and NULL are ``unknown``)."""
    if const.isnull:
        return UNKNOWN
    val = const.val
    if isinstance(val, ast.Integer):
        return "integer"
    if isinstance(val, ast.Float):
        text = str(val.fval)
        if text.isdigit():
            number = int(text)
            if number <= _INT4_MAX:
                return "integer"
            if number <= _INT8_MAX:
                return "bigint"
        return "numeric"
    if isinstance(val, ast.Boolean):
        return "boolean"
    if isinstance(val, ast.BitString):
        return "bit"
    return UNKNOWN


def compatible(call_type: str, declared: str) -> bool:
    """Loose check that an argument of ``call_type`` can reach a ``declared`` parameter.

    Deliberately permissive (unknown, polymorphic, numeric widening, string
    family): it only narrows overload candidates, it never decides an error.
    """
    if call_type in (UNKNOWN, declared):
        return True
    if declared.startswith(_POLYMORPHIC_PREFIXES) or declared == '"any"':
        return True
    if call_type in _NUMERICS and declared in _NUMERICS:
        return _NUMERICS.index(call_type) <= _NUMERICS.index(declared)
    return call_type in _STRINGS and declared in _STRINGS


_CATEGORIES = (_NUMERICS, _STRINGS, ("boolean",))
#: The preferred type of each category above (pg_type.typispreferred): where several
#: overloads need a cast, PostgreSQL keeps those taking it (``f(1)`` takes
#: ``f(double precision)`` over ``f(numeric)``, ``f('x')`` takes ``f(text)``).
_PREFERRED = ("double precision", "text", "boolean")


def category(type_name: str) -> str:
    """The type category of ``type_name`` as far as overload resolution here follows it:
    the category's preferred type for numbers, strings and booleans, else the type itself."""
    for members, preferred in zip(_CATEGORIES, _PREFERRED, strict=True):
        if type_name in members:
            return preferred
    return type_name


def preferred(type_name: str) -> bool:
    """``type_name`` is the preferred type of its category."""
    return type_name in _PREFERRED


def cannot_take(call_type: str, declared: str) -> bool:
    """An argument of ``call_type`` can surely not reach a ``declared`` parameter: both are
    numbers, strings or booleans and PostgreSQL has no implicit cast between them
    (``f(1)`` does not find ``f(text)``: 42883). Anything else may have a cast."""
    known = any(call_type in c for c in _CATEGORIES) and any(declared in c for c in _CATEGORIES)
    return known and not compatible(call_type, declared)
