"""Which app and version opened a connection (the identity contract).

An identity comes from, in order: ``-c skewguard.app=… -c skewguard.version=…``
in the startup ``options``; then the session's ``application_name`` (the startup
parameter, else ``-c application_name=…`` in ``options``, as the server itself
resolves it) matched against the identity pattern (default ``app@version``). A
later ``SET application_name`` re-evaluates the pattern. Anything else is untagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_PATTERN = r"^(?P<app>[^@\s]+)@(?P<version>\S+)$"
UNTAGGED_LABEL = "(untagged)"
#: ``--app-role`` app name standing for every app not bound by its own name.
EVERY_APP = "*"
#: The bytes of application_name PostgreSQL shows (pg_stat_activity keeps NAMEDATALEN - 1):
#: a claimed tag is read no further, so a client's 1 MB tag is no 1 MB label, key or row.
TAG_BYTES = 63


def clipped(value: str) -> str:
    """``value`` cut to TAG_BYTES of UTF-8 at a character boundary, as PostgreSQL cuts."""
    encoded = value.encode("utf-8", "surrogatepass")
    if len(encoded) <= TAG_BYTES:
        return value
    return encoded[:TAG_BYTES].decode("utf-8", "ignore")


@dataclass(frozen=True, slots=True)
class Identity:
    """``app@version``, or untagged when both are empty."""

    app: str = ""
    version: str = ""

    @property
    def tagged(self) -> bool:
        return bool(self.app)

    @property
    def labels(self) -> tuple[str, str]:
        """Prometheus label values; untagged connections share one label pair."""
        if not self.app:
            return UNTAGGED_LABEL, UNTAGGED_LABEL
        return self.app, self.version

    def __str__(self) -> str:
        return f"{self.app}@{self.version}" if self.app else UNTAGGED_LABEL


UNTAGGED = Identity()

#: The characters C's isspace() accepts: the backend splits ``options`` on these only.
_C_SPACE = frozenset(" \t\n\v\f\r")


def parse_options(options: str) -> dict[str, str]:
    """Settings from a startup ``options`` string, as the backend reads them.

    Accepts ``-c name=value``, ``-cname=value`` and ``--name=value``; a
    backslash escapes the next character (so ``\\ `` is a literal space).
    """
    words: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in options:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in _C_SPACE:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    settings: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        assignment: str | None = None
        if word == "-c" and i + 1 < len(words):
            assignment = words[i + 1]
            i += 1
        elif word.startswith("-c") or word.startswith("--"):
            assignment = word[2:]
        i += 1
        if assignment and "=" in assignment:
            name, value = assignment.split("=", 1)
            settings[name.strip().lower().replace("-", "_")] = value
    return settings


#: Startup packet keys PostgreSQL reads itself rather than as settings.
_NOT_SETTINGS = frozenset({"user", "database", "options", "replication"})


def startup_settings(params: dict[str, str]) -> dict[str, str]:
    """The settings a StartupMessage gives the session, as the backend applies them:
    ``options`` first, then every other parameter (names are case-insensitive), so a
    ``search_path`` parameter wins over ``-c search_path`` in ``options``."""
    settings = parse_options(params.get("options", ""))
    for name, value in params.items():
        if name not in _NOT_SETTINGS and not name.startswith("_pq_."):
            settings[name.lower()] = value
    return settings


class IdentityResolver:
    """Turns startup parameters and application_name changes into identities.

    Migration runners are not versions: a connection of a role in
    ``migrator_roles``, or tagged with an app in ``migrator_apps``, resolves to
    untagged (tracked, protecting nothing), so ``migrator@2.0.0`` or a DBA's
    session never becomes a version whose footprint blocks the next migration.
    An app bound to roles (``app_roles``) is untagged from any other role, so a
    role that can merely log in cannot pose as ``shop@999``. Apps bound to ``*``
    stand for every app not bound by name: with it, such a role claims no version
    at all (each claim adds protection, and thousands of them made every decision
    too slow to judge: DDL refused for the whole ``--retain`` window).
    """

    __slots__ = ("_app_roles", "_migrator_apps", "_migrator_roles", "_pattern")

    def __init__(
        self,
        pattern: str = DEFAULT_PATTERN,
        *,
        migrator_apps: Iterable[str] = (),
        migrator_roles: Iterable[str] = (),
        app_roles: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._migrator_apps = frozenset(migrator_apps)
        self._migrator_roles = frozenset(migrator_roles)
        # an app bound to roles: its tag counts only from them (--app-role)
        self._app_roles: dict[str, frozenset[str]] = {}
        for app, role in app_roles:
            self._app_roles[app] = self._app_roles.get(app, frozenset()) | {role}
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"identity pattern {pattern!r} is not a valid regex: {exc}") from None
        missing = {"app", "version"} - set(compiled.groupindex)
        if missing:
            raise ValueError(
                f"identity pattern {pattern!r} lacks named group(s) {', '.join(sorted(missing))}"
            )
        self._pattern = compiled

    def from_application_name(self, name: str, *, user: str = "") -> Identity:
        match = self._pattern.match(clipped(name))
        if not match or not match.group("app"):
            return UNTAGGED
        return self._unless_migrator(
            Identity(match.group("app"), match.group("version") or ""), user
        )

    def from_startup(self, params: dict[str, str]) -> Identity:
        options = parse_options(params.get("options", ""))
        user = params.get("user", "")
        app = clipped(options.get("skewguard.app", ""))
        if app:
            version = clipped(options.get("skewguard.version", ""))
            return self._unless_migrator(Identity(app, version), user)
        # The backend applies ``options`` first, then the other startup parameters,
        # so an explicit application_name parameter wins over -c application_name.
        if "application_name" in params:
            return self.from_application_name(params["application_name"], user=user)
        return self.from_application_name(options.get("application_name", ""), user=user)

    def _unless_migrator(self, identity: Identity, user: str) -> Identity:
        if identity.app in self._migrator_apps or user in self._migrator_roles:
            return UNTAGGED
        bound = self._app_roles.get(identity.app, self._app_roles.get(EVERY_APP))
        if bound is not None and user not in bound:
            return UNTAGGED  # another role claiming the app's name: tracked, protects nothing
        return identity
