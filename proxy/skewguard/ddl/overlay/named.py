"""Text search configurations and collations: named inside expressions, not modelled.

A statement names them in its text (``to_tsvector('app_english', body)``,
``COLLATE app_ci``) and PostgreSQL looks them up at each planning, so dropping or
renaming one breaks the versions that name it (42704). The catalog snapshot does not
list them: the overlay records the names a migration drops or renames, as written,
and the diff reports each (:class:`~skewguard.ddl.changes.DropNamedObject`).
"""

from __future__ import annotations

from skewguard.catalog import ident
from skewguard.ddl.model import Model


def named_gone(m: Model, kind: str, names: list[str], new_name: str = "") -> None:
    """The ``kind`` ("ts_config" or "collation") object ``names`` is dropped (or
    renamed to ``new_name``), recorded under the name as facets write it."""
    m.named_drops[(kind, ".".join(ident(n) for n in names[-2:]))] = new_name
