"""The ways applying DDL to the model can end without a model of its effect.

Only two exceptions leave :meth:`skewguard.ddl.Overlay.apply`:

- :class:`DdlParseError`: the text does not parse;
- :class:`CannotModel`: the statement parses, PostgreSQL may well run it, but
  skewguard cannot say what it does to objects that already exist (a ``DO``
  block, ``DROP OWNED BY``, a trigger on an existing table...), so it cannot
  judge it against running versions. It says what the statement can affect
  (:class:`~skewguard.ddl.affects.Affects`), or nothing when that is unknown:
  only versions that use what it affects can be broken by it.

:class:`Rejected` stays inside the overlay: it marks a statement PostgreSQL
itself would refuse, which therefore changes nothing.
"""

from __future__ import annotations

from skewguard.ddl.affects import Affects


class DdlParseError(ValueError):
    """The DDL text does not parse."""


class CannotModel(Exception):
    """The overlay cannot model what a statement does to existing objects.

    ``reason`` is short and human (``"DROP OWNED BY: ownership closure not
    modelled"``); ``statement`` is the start of the statement's text.
    ``internal`` is True when the cause is a defect of the overlay itself (an
    unexpected error while applying a statement): the caller treats it the same
    way, tests treat it as a bug. ``affects`` is what the statement can change
    the behaviour of; None when that is unknown (it may affect every version).
    A statement with a known reach changes nothing else the model follows: the
    model stays as it was, exactly.
    """

    def __init__(
        self,
        reason: str,
        *,
        statement: str = "",
        internal: bool = False,
        affects: Affects | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.statement = statement
        self.internal = internal
        self.affects = affects

    def __str__(self) -> str:
        return f"{self.reason}: {self.statement}" if self.statement else self.reason


class Rejected(Exception):
    """PostgreSQL would reject the statement: it changes nothing."""


__all__ = ["CannotModel", "DdlParseError", "Rejected"]
