"""The one table from a statement's node type to the applier that changes the model.

A node type not in :data:`APPLIERS` is harmless (:data:`~skewguard.ddl.opaque.HARMLESS`),
judged without a model (:data:`~skewguard.ddl.opaque.JUDGES`), no schema change at all
(DML, SHOW...), or not modelled (:class:`CannotModel`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pglast import ast, enums

from skewguard.analysis.classify import is_ddl
from skewguard.ddl.errors import CannotModel
from skewguard.ddl.model import Model
from skewguard.ddl.opaque import HARMLESS, JUDGES
from skewguard.ddl.overlay import (
    alter_table,
    constraints,
    drops,
    functions,
    publications,
    renames,
    schemas,
    security,
    sequences,
    tables,
    typedefs,
    views,
)
from skewguard.ddl.own_objects import names_backstop

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay

_O = enums.ObjectType

APPLIERS: dict[type, Callable[[Overlay, Model, Any], None]] = {
    ast.VariableSetStmt: schemas.set_variable,
    ast.CreateSchemaStmt: schemas.create_schema,
    ast.CreateExtensionStmt: schemas.create_extension,
    ast.CreateStmt: tables.create_table,
    ast.CreateForeignTableStmt: tables.create_foreign_table,
    ast.CreateSeqStmt: tables.create_sequence,
    ast.AlterSeqStmt: sequences.alter_sequence,
    ast.RuleStmt: tables.create_rule,
    ast.AlterTableStmt: alter_table.alter_table,
    ast.IndexStmt: constraints.create_index,
    ast.DropStmt: drops.drop,
    ast.RenameStmt: renames.rename,
    ast.AlterObjectSchemaStmt: renames.set_schema,
    ast.ViewStmt: views.create_view,
    ast.CreateTableAsStmt: views.create_table_as,
    ast.CreateEnumStmt: typedefs.create_enum,
    ast.AlterEnumStmt: typedefs.alter_enum,
    ast.CreateDomainStmt: typedefs.create_domain,
    ast.CompositeTypeStmt: typedefs.create_composite,
    ast.CreateRangeStmt: typedefs.create_range,
    ast.DefineStmt: typedefs.define,
    ast.CreateFunctionStmt: functions.create_function,
    ast.CreatePolicyStmt: security.create_policy,
    ast.GrantStmt: security.grant,
    ast.CreatePublicationStmt: publications.create_publication,
    ast.AlterPublicationStmt: publications.alter_publication,
}


def apply_node(ov: Overlay, m: Model, node: Any) -> None:
    """Apply one statement node to ``m``; raises Rejected or CannotModel."""
    node = _as_run(node)
    if is_ddl(node) and names_backstop(node):
        raise CannotModel("a change of the skewguard backstop's own objects")
    applier = APPLIERS.get(type(node))
    if applier is not None:
        applier(ov, m, node)
        return
    if type(node) in HARMLESS:
        return
    judge = JUDGES.get(type(node))
    if judge is not None:
        judge(ov.scope(m), node)
        return
    if not is_ddl(node):
        return  # DML, SHOW, ...: no schema change
    raise CannotModel(f"{type(node).__name__}: not modelled")


def _as_run(node: Any) -> Any:
    """What a statement does to the schema when it runs: ``SELECT ... INTO t`` and
    ``EXPLAIN ANALYZE`` of a table-creating statement create a table as ``CREATE TABLE
    t AS`` does (a new table that may shadow another one on a search_path)."""
    if isinstance(node, ast.ExplainStmt) and is_ddl(node):
        return _as_run(node.query)
    if isinstance(node, ast.SelectStmt) and node.intoClause is not None:
        return ast.CreateTableAsStmt(
            query=node, into=node.intoClause, objtype=_O.OBJECT_TABLE, is_select_into=True
        )
    return node
