"""The search_path a session resolves names with, and statements that change it.

Analysis resolves unqualified names per session, so the relay follows
``SET search_path`` (and RESET/DISCARD ALL) as statements pass. The starting
value is PostgreSQL's (wire/handshake.py asks for it, per-role and per-database
defaults included); the startup packet's is the stand-in until then.
"""

from __future__ import annotations

from skewguard.identity import startup_settings

DEFAULT = ("$user", "public")


def parse_path(text: str) -> tuple[str, ...]:
    """``'"$user", public'`` → ("$user", "public"); quoted names keep their case."""
    names: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        if len(name) >= 2 and name[0] == name[-1] == '"':
            names.append(name[1:-1].replace('""', '"'))
        else:
            names.append(name.lower())
    return tuple(names)


def startup_path(params: dict[str, str]) -> tuple[str, ...]:
    """The session's initial search_path from its startup packet."""
    value = startup_settings(params).get("search_path")
    return parse_path(value) if value is not None else DEFAULT
