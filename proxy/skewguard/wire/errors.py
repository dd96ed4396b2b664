"""Errors raised by the pure protocol layer."""

from __future__ import annotations

PROTOCOL_VIOLATION = "08P01"


class ProtocolViolation(Exception):
    """The peer broke the protocol; the connection it came from must end.

    Carries the SQLSTATE and a message fit to send back to the client.
    """

    def __init__(self, message: str, sqlstate: str = PROTOCOL_VIOLATION) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
