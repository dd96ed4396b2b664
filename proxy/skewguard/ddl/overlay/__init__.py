"""Apply DDL to a transaction-local model of the catalog.

:class:`Overlay` parses each text with pglast and applies its statements to a
:class:`~skewguard.ddl.model.Model`: tables, columns (types, defaults, NOT
NULL, identity), constraints, indexes, views (output columns and what they
read, computed like the analyzer does), sequences, enums, functions, schemas,
row-level security and privileges. DROP ... CASCADE removes the dependents
PostgreSQL would remove; a statement PostgreSQL would reject (a RESTRICT drop
with dependents, a type change under a view) leaves the model unchanged.
Savepoints copy the model. Nothing here does I/O.

:mod:`.core` keeps the state; :mod:`.dispatch` maps each statement node type to
its applier (:mod:`.tables`, :mod:`.alter_table`, :mod:`.constraints`,
:mod:`.views`, :mod:`.typedefs`, :mod:`.functions`, :mod:`.security`,
:mod:`.schemas`, :mod:`.drops`, :mod:`.renames`); :mod:`.cascade` follows
pg_depend for drops; :mod:`.names` resolves names on the search_path.
"""

from __future__ import annotations

from skewguard.ddl.errors import CannotModel, DdlParseError
from skewguard.ddl.overlay.core import Overlay

__all__ = ["CannotModel", "DdlParseError", "Overlay"]
