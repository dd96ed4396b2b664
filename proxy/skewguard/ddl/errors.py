"""The ways applying DDL to the model can end without a model of its effect.

Only two exceptions leave :meth:`skewguard.ddl.Overlay.apply`:

- :class:`DdlParseError`: the text does not parse;
- :class:`CannotModel`: the statement parses, PostgreSQL may well run it, but
  skewguard cannot say what it does to objects that already exist (a ``DO``
  block, ``DROP OWNED BY``, a trigger on an existing table...), so it cannot
  judge it against running versions.

:class:`Rejected` stays inside the overlay: it marks a statement PostgreSQL
itself would refuse, which therefore changes nothing.
"""

from __future__ import annotations


class DdlParseError(ValueError):
    """The DDL text does not parse."""


class CannotModel(Exception):
    """The overlay cannot model what a statement does to existing objects.

    ``reason`` is short and human (``"DROP OWNED BY: ownership closure not
    modelled"``); ``statement`` is the start of the statement's text.
    ``internal`` is True when the cause is a defect of the overlay itself (an
    unexpected error while applying a statement): the caller treats it the same
    way, tests treat it as a bug.
    """

    def __init__(self, reason: str, *, statement: str = "", internal: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.statement = statement
        self.internal = internal

    def __str__(self) -> str:
        return f"{self.reason}: {self.statement}" if self.statement else self.reason


class Rejected(Exception):
    """PostgreSQL would reject the statement: it changes nothing."""


__all__ = ["CannotModel", "DdlParseError", "Rejected"]
