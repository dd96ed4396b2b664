"""Apply DDL to a transaction-local model of the catalog (:class:`Overlay`, in :mod:`.core`)."""

from __future__ import annotations

from skewguard.ddl.errors import CannotModel, DdlParseError
from skewguard.ddl.overlay.core import Overlay

__all__ = ["CannotModel", "DdlParseError", "Overlay"]
