"""One settings object for the proxy, read from flags, environment and a TOML file.

Precedence: command-line flag, then ``SKEWGUARD_<FLAG>`` in the environment, then
the ``[run]`` table of ``--config FILE`` (TOML), then the default. Every option
is declared once in ``OPTIONS``; the argparse flags, the environment names and
the documentation all come from that table.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from skewguard.backlog import DEFAULT_MAX_TEXTS
from skewguard.identity import DEFAULT_PATTERN, IdentityResolver

#: Distinct facets one version's footprint keeps (``--max-version-facets``): past it
#: the newest are not kept, and the guard cannot judge DDL while that version is
#: protected (what else it uses is unknown). A session naming 20,000 missing tables
#: made 60,000 facets, and every decision weighs every protected version's facets.
MAX_VERSION_FACETS = 50_000


class ConfigError(ValueError):
    """A setting has a value the proxy cannot use; the message names the setting."""


#: Why a listen address cannot be bound, for the errors people meet on their first run.
_LISTEN_ERRORS = {
    errno.EADDRINUSE: "another process listens there (another skewguard? pgbouncer also uses 6432)",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
    errno.EADDRNOTAVAIL: "no network interface of this machine has that address",
}


def cannot_listen(flag: str, address: str, exc: OSError) -> ConfigError:
    """An address the proxy cannot listen on, said in one line with the flag to change."""
    why = _LISTEN_ERRORS.get(exc.errno or 0, exc.strerror or str(exc))
    return ConfigError(f"{flag} {address}: cannot listen: {why}; choose another {flag}")


def parse_hostport(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 as ``[::1]:PORT``) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"expected HOST:PORT, got {value!r}")
    host = host.strip("[]") or "127.0.0.1"
    number = int(port)
    if not 0 <= number <= 65535:
        raise ConfigError(f"port out of range in {value!r}")
    return host, number


#: ``--listen unix:/path/.s.PGSQL.6432``: libpq reaches it as host=/path port=6432.
UNIX_LISTEN = "unix:"


def parse_listen(value: str) -> tuple[str, int] | str:
    """``HOST:PORT`` → (host, port); ``unix:/absolute/path`` → the socket's path."""
    if value.startswith(UNIX_LISTEN):
        path = value[len(UNIX_LISTEN) :]
        if not path.startswith("/"):
            raise ConfigError(f"expected unix:/absolute/path, got {value!r}")
        return path
    return parse_hostport(value)


def parse_duration(value: str) -> float:
    """``90``, ``90s``, ``15m``, ``24h``, ``7d`` → seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = value.strip().lower()
    number, scale = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1)
    try:
        seconds = float(number) * scale
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"expected a duration like 30s, 15m, 24h; got {value!r}")
    return seconds


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where the proxy connects: from a ``postgresql://`` URL."""

    host: str
    port: int
    sslmode: str
    user: str | None
    password: str | None
    database: str | None
    url: str
    sslrootcert: str | None = None  # a CA file, or "system" (libpq 16): the system store
    sslcert: str | None = None  # a client certificate for PostgreSQL's ``cert`` auth
    sslkey: str | None = None

    @property
    def unix_socket(self) -> str | None:
        """The socket path when ``host`` is a directory (libpq convention)."""
        return f"{self.host}/.s.PGSQL.{self.port}" if self.host.startswith("/") else None


#: The state file when nothing names one.
DEFAULT_STATE = "skewguard.db"

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
#: ``backstop install --mode``: refuse unpassed DDL on protected objects, or only record it.
BACKSTOP_MODES = ("enforce", "audit")


def parse_upstream(url: str) -> Upstream:
    """A ``postgresql://`` URL or a libpq keyword string (``host=db port=5432 ...``),
    read by libpq's own parser (psycopg's ``conninfo_to_dict``); no PG* variables."""
    if "://" in url and urlsplit(url).scheme not in ("postgres", "postgresql"):
        raise ConfigError(f"--upstream must be a postgresql:// URL or libpq keywords, got {url!r}")
    import psycopg  # here: loading libpq's bindings costs every command ~0.2 s otherwise
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(url).items()}
    except psycopg.ProgrammingError as exc:
        raise ConfigError(
            f"--upstream must be a postgresql:// URL or libpq keywords (host=... port=...),"
            f" got {url!r}: {str(exc).strip()}"
        ) from None
    if not params and "://" not in url:
        raise ConfigError(f"--upstream must be a postgresql:// URL or libpq keywords, got {url!r}")
    host = params.get("host") or params.get("hostaddr") or "127.0.0.1"
    if "," in host:
        raise ConfigError(f"--upstream names several hosts ({host}); give one")
    try:
        port = int(params.get("port") or 5432)
    except ValueError:
        port = -1
    if not 0 < port <= 65535:
        raise ConfigError(f"bad port in --upstream {url!r}")
    sslmode = params.get("sslmode", "prefer")
    if sslmode not in SSLMODES:
        raise ConfigError(f"unknown sslmode {sslmode!r} in --upstream; use one of {SSLMODES}")
    files = {name: params.get(name) or None for name in ("sslrootcert", "sslcert", "sslkey")}
    for name, path in files.items():
        if path is not None and path != "system" and not os.path.isfile(path):
            raise ConfigError(f"{name} in --upstream: no such file {path!r}")
    if files["sslrootcert"] == "system" and sslmode != "verify-full":
        raise ConfigError("sslrootcert=system in --upstream needs sslmode=verify-full (as libpq)")
    if (files["sslcert"] is None) != (files["sslkey"] is None):
        raise ConfigError("--upstream needs both sslcert and sslkey for a client certificate")
    return Upstream(
        host=host,
        port=port,
        sslmode=sslmode,
        user=params.get("user") or None,
        password=params.get("password") or None,
        database=params.get("dbname") or None,
        url=url,
        **files,
    )


@dataclass(frozen=True, slots=True)
class Option:
    name: str  # a Settings field; the flag is --name-with-dashes
    help: str
    convert: Callable[[str], Any] = str
    metavar: str | None = None

    @property
    def default(self) -> Any:
        return Settings.__dataclass_fields__[self.name].default

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "SKEWGUARD_" + self.name.upper()


def _validated(check: Callable[[str], object]) -> Callable[[str], str]:
    """A converter that keeps the text but rejects it early, so errors name their source."""

    def convert(value: str) -> str:
        check(value)
        return value

    return convert


def _check_pattern(value: str) -> None:
    try:
        IdentityResolver(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _interval(value: str) -> float:
    """A duration greater than zero (``parse_duration``): ``0.5``, ``5s``, ``1m``."""
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ConfigError(f"expected a duration greater than zero; got {value!r}")
    return seconds


def _choice(*allowed: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if value not in allowed:
            raise ConfigError(f"expected one of {', '.join(allowed)}; got {value!r}")
        return value

    convert.__doc__ = "{" + "|".join(allowed) + "}"  # shown as the flag's metavar
    return convert


def _shown(value: Any) -> str:
    """A default as a user would type it: 24h rather than 86400.0 (or 1d: days from two
    on, as DESIGN.md and the docs say --retain 24h), none rather than ()."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60)):
            if value >= seconds * (2 if unit == "d" else 1) and value % seconds == 0:
                return f"{int(value // seconds)}{unit}"
        return f"{value:g}s"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "none"
    return str(value)


def _severities(value: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in value.split(","):
        if not item.strip():
            continue
        rule, sep, severity = item.partition("=")
        if not sep or severity.strip() not in ("break", "risk", "info"):
            raise ConfigError(f"expected RULE=break|risk|info[,...]; got {item.strip()!r}")
        pairs.append((rule.strip(), severity.strip()))
    return tuple(pairs)


def _pairs(value: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in value.split(","):
        if not item.strip():
            continue
        app, sep, role = item.partition("=")
        if not sep or not app.strip() or not role.strip():
            raise ConfigError(f"expected APP=ROLE[,...]; got {item.strip()!r}")
        pairs.append((app.strip(), role.strip()))
    return tuple(pairs)


def _roles(value: str) -> tuple[str, ...]:
    return tuple(role.strip() for role in value.split(",") if role.strip())


def _switch(value: str) -> bool:
    """on|off"""
    text = value.strip().lower()
    if text in ("on", "true", "yes", "1"):
        return True
    if text in ("off", "false", "no", "0"):
        return False
    raise ConfigError(f"expected on or off; got {value!r}")


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ConfigError(f"expected a whole number >= 0; got {value!r}")
    return number


def _positive(value: str) -> int:
    number = _count(value)
    if number < 1:
        raise ConfigError(f"expected a whole number >= 1; got {value!r}")
    return number


#: Environment variables holding the admin tokens themselves (the files take precedence).
ADMIN_TOKEN_ENV = "SKEWGUARD_ADMIN_TOKEN"
ADMIN_READ_TOKEN_ENV = "SKEWGUARD_ADMIN_READ_TOKEN"


OPTIONS: tuple[Option, ...] = (
    Option(
        "listen",
        "address the proxy accepts clients on: HOST:PORT, or unix:/dir/.s.PGSQL.PORT for "
        "libpq's host=/dir port=PORT",
        _validated(parse_listen),
        metavar="HOST:PORT|unix:PATH",
    ),
    Option(
        "upstream",
        "PostgreSQL to proxy to: a postgresql:// URL or libpq keywords (sslmode, sslrootcert, "
        "sslcert, sslkey honoured); "
        "without it an embedded PostgreSQL is started",
        _validated(parse_upstream),
        metavar="URL",
    ),
    Option(
        "admin_listen",
        "address of the admin HTTP server: /metrics, /healthz, /api/*, the status page",
        _validated(parse_hostport),
        metavar="HOST:PORT",
    ),
    Option(
        "admin_token_file",
        "file holding the bearer token that admin API changes (pin, unpin, retire, check) "
        f"need; it also grants reads. Or put the token itself in {ADMIN_TOKEN_ENV}. Without "
        "one, changes are refused unless the admin listener is loopback-only",
        metavar="FILE",
    ),
    Option(
        "admin_read_token_file",
        "file holding a bearer token that admin API reads (/api/*, /metrics, the status page) "
        f"then need; or {ADMIN_READ_TOKEN_ENV}. Without one, reads are open",
        metavar="FILE",
    ),
    Option(
        "audit_retention",
        "audited DDL decisions older than this are deleted (0: kept whatever their age)",
        parse_duration,
        metavar="DURATION",
    ),
    Option(
        "audit_max_rows",
        "at most this many audited DDL decisions are kept, the oldest go first (0: no cap)",
        _count,
        metavar="N",
    ),
    Option(
        "backstop_sync_interval",
        "how often the protected objects of each database with the backstop installed are "
        "written to it (skewguard backstop install)",
        _interval,
        metavar="DURATION",
    ),
    Option(
        "keep_literals",
        "keep literal values in stored query samples, the audit and the API (default: "
        "samples keep the statement's shape, values replaced by placeholders)",
        _switch,
    ),
    Option(
        "identity_pattern",
        "regex with named groups app and version, matched on application_name",
        _validated(_check_pattern),
        metavar="REGEX",
    ),
    Option(
        "migrator_apps",
        "app names whose connections run migrations: tracked as untagged, never a "
        "protected version (e.g. migrator@2.0.0)",
        _roles,
        metavar="APP,...",
    ),
    Option(
        "app_role",
        "bind apps to PostgreSQL roles, e.g. orders=orders_rw,shop=shop_rw: a tag of a bound "
        "app from any other role is tracked as untagged and protects nothing; *=ROLE binds "
        "every app not named (other roles then claim no version at all)",
        _pairs,
        metavar="APP=ROLE,...",
    ),
    Option(
        "migrator_roles",
        "PostgreSQL roles whose connections run migrations, whatever they are tagged: "
        "tracked as untagged, never a protected version",
        _roles,
        metavar="ROLE,...",
    ),
    Option("tls_cert", "PEM certificate: terminate client TLS with it", metavar="FILE"),
    Option("tls_key", "PEM private key for --tls-cert", metavar="FILE"),
    Option("log_format", "log format: text or json", _choice("text", "json")),
    Option("log_level", "log level", _choice("debug", "info", "warning", "error")),
    Option(
        "shutdown_grace",
        "on SIGTERM, how long open connections may finish before they are closed",
        parse_duration,
        metavar="DURATION",
    ),
    Option(
        "data_dir",
        "data folder of the embedded PostgreSQL (used without --upstream)",
        metavar="PATH",
    ),
    Option(
        "state",
        "where footprints, lifecycle and decisions persist: a SQLite file, or a "
        "postgresql:// URL whose skewguard schema every proxy shares",
        metavar="PATH|URL",
    ),
    Option(
        "proxy_id",
        "this proxy's name in shared-state heartbeats (default: hostname:pid:listen-port)",
        metavar="ID",
    ),
    Option(
        "heartbeat_window",
        "another proxy's live versions count as live while its last heartbeat is this recent",
        parse_duration,
        metavar="DURATION",
    ),
    Option(
        "analysis",
        "learn each version's footprint from its traffic: on, or off (relay only)",
        _choice("on", "off"),
    ),
    Option(
        "mode",
        "enforce: block DDL that breaks a protected version; warn: let it through and alert; "
        "observe: learn only",
        _choice("enforce", "warn", "observe"),
    ),
    Option(
        "retain",
        "versions seen within this window stay protected after their last connection",
        parse_duration,
        metavar="DURATION",
    ),
    Option(
        "override_roles",
        "roles whose /* skewguard:allow reason=... */ or SET skewguard.allow is honoured",
        _roles,
        metavar="ROLE,...",
    ),
    Option(
        "unparseable_ddl",
        "what to do with DDL the parser cannot read: allow (counted and logged) or block",
        _choice("allow", "block"),
    ),
    Option(
        "decision_timeout",
        "how long the guard may take to judge one DDL statement or COMMIT; past it the "
        "statement is treated as one the guard cannot judge",
        parse_duration,
        metavar="DURATION",
    ),
    Option(
        "on_guard_error",
        "when the guard cannot judge (deadline, catalog or state unreachable, a change it "
        "cannot model): block (enforce mode refuses with 55006) or allow (audited)",
        _choice("block", "allow"),
    ),
    Option(
        "opaque_ddl",
        "DDL the proxy can see but not read (DO blocks, CALL of procedures) in a database "
        "with protected versions: block, warn or allow (always audited)",
        _choice("block", "warn", "allow"),
    ),
    Option(
        "replay",
        "which of a protected version's sampled statements the guard replays, with the values "
        "it sent, inside the migration before it commits (savepoints always rolled back; "
        "sequences a replayed INSERT calls still advance): none, reads, writes or all",
        _choice("none", "reads", "writes", "all"),
    ),
    Option(
        "replay_max_shapes",
        "statement shapes whose sampled values are kept in memory for replay (never stored)",
        _count,
        metavar="N",
    ),
    Option(
        "replay_max_bytes",
        "bytes of sampled statements and values kept in memory for replay",
        _count,
        metavar="N",
    ),
    Option(
        "rule_severity",
        "change rules' severities, by id or name, e.g. SG201=break,column-type-change=risk",
        _severities,
        metavar="RULE=SEVERITY,...",
    ),
    Option(
        "max_tracked_versions",
        "distinct app@version label pairs in per-identity metrics; later ones share the "
        "(other) labels",
        _count,
        metavar="N",
    ),
    Option(
        "max_version_facets",
        "distinct facets one version's footprint keeps; past it the newest are not kept and "
        "DDL in its database is refused as not judged while the version is protected "
        "(unjudged reason footprint): what else it uses is not known",
        _count,
        metavar="N",
    ),
    Option(
        "max_session_versions",
        "distinct app@version identities one client connection may learn under (SET "
        "application_name in a loop claims a version each time); past it the connection's "
        "statements are no longer learned, its DDL still judged "
        "(skewguard_learning_stopped_sessions_total)",
        _count,
        metavar="N",
    ),
    Option(
        "max_analysed_statement",
        "statements longer than this many characters are relayed but not learned from "
        '(counted in skewguard_analysis_failures_total{reason="too-long"})',
        _count,
        metavar="N",
    ),
    Option(
        "max_learning_backlog",
        "distinct statement texts waiting to be learned, at most; past it the oldest texts "
        "sharing a newer one's shape are folded into it, then the oldest dropped "
        "(skewguard_learning_shed_texts_total)",
        _count,
        metavar="N",
    ),
    Option(
        "max_client_conn",
        "client connections served at once; beyond it a client gets PostgreSQL's 53300 "
        "'sorry, too many clients already' (0: what the open-file limit allows)",
        _count,
        metavar="N",
    ),
    Option(
        "startup_timeout",
        "how long a new client may take to send its startup packet",
        parse_duration,
        metavar="DURATION",
    ),
    Option(
        "workers",
        "event loops in their own processes sharing the listen address, under one supervisor "
        "that restarts them and serves one admin endpoint for all (docs/operations.md, Sizing)",
        _positive,
        metavar="N",
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    listen: str = "127.0.0.1:6432"
    upstream: str | None = None
    admin_listen: str = "127.0.0.1:9632"
    admin_token_file: str | None = None
    admin_read_token_file: str | None = None
    audit_retention: float = 30 * 86400.0
    audit_max_rows: int = 100_000
    backstop_sync_interval: float = 5.0
    keep_literals: bool = False
    identity_pattern: str = DEFAULT_PATTERN
    migrator_apps: tuple[str, ...] = ("migrator",)
    app_role: tuple[tuple[str, str], ...] = ()
    migrator_roles: tuple[str, ...] = ()
    tls_cert: str | None = None
    tls_key: str | None = None
    log_format: str = "text"
    log_level: str = "info"
    shutdown_grace: float = 30.0
    data_dir: str = ".skewguard/pgdata"
    state: str = DEFAULT_STATE
    proxy_id: str | None = None
    heartbeat_window: float = 10.0
    analysis: str = "on"
    mode: str = "enforce"
    retain: float = 24 * 3600.0
    override_roles: tuple[str, ...] = ()
    unparseable_ddl: str = "allow"
    decision_timeout: float = 5.0
    on_guard_error: str = "block"
    opaque_ddl: str = "block"
    replay: str = "all"
    replay_max_shapes: int = 10_000
    replay_max_bytes: int = 32 << 20
    rule_severity: tuple[tuple[str, str], ...] = ()
    max_tracked_versions: int = 1000
    max_version_facets: int = MAX_VERSION_FACETS
    max_session_versions: int = 32
    max_analysed_statement: int = 1 << 20
    max_learning_backlog: int = DEFAULT_MAX_TEXTS
    max_client_conn: int = 0
    startup_timeout: float = 60.0
    workers: int = 1

    def __post_init__(self) -> None:
        checks: list[tuple[str, Callable[[str], object], str | None]] = [
            ("--listen", parse_listen, self.listen),
            ("--admin-listen", parse_hostport, self.admin_listen),
            ("--upstream", parse_upstream, self.upstream),
            ("--identity-pattern", _check_pattern, self.identity_pattern),
        ]
        for flag, check, value in checks:
            if value is None:
                continue
            try:
                check(value)
            except ConfigError as exc:
                raise ConfigError(f"{flag}: {exc}") from None
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key must be given together")

    @property
    def listen_address(self) -> tuple[str, int] | str:
        """(host, port), or the path of a Unix-domain socket."""
        return parse_listen(self.listen)

    @property
    def listen_port(self) -> int:
        """The TCP port, or the one a ``.s.PGSQL.PORT`` socket name carries (else 0)."""
        address = self.listen_address
        if isinstance(address, tuple):
            return address[1]
        suffix = address.rpartition(".s.PGSQL.")[2]
        return int(suffix) if suffix.isdigit() else 0

    @property
    def admin_address(self) -> tuple[str, int]:
        return parse_hostport(self.admin_listen)


assert [o.name for o in OPTIONS] == [f.name for f in fields(Settings)], (
    "OPTIONS and Settings differ"
)


#: Shorter tokens are refused: the admin port may be reachable by anyone.
MIN_TOKEN_LENGTH = 16


def read_admin_token(
    path: str | None, env_name: str, environ: Mapping[str, str] | None = None
) -> str | None:
    """The token in file ``path``, else in the environment variable ``env_name``; None if neither.

    Surrounding whitespace (a file's trailing newline) is not part of the token.
    """
    env = os.environ if environ is None else environ
    source = env_name
    if path:
        source = path
        try:
            token = Path(path).read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read admin token file {path}: {exc}") from None
    else:
        token = env.get(env_name, "").strip()
        if not token:
            return None
    if len(token) < MIN_TOKEN_LENGTH or not token.isprintable():
        raise ConfigError(
            f"{source}: an admin token must be at least {MIN_TOKEN_LENGTH} printable characters"
        )
    return token


@dataclass(frozen=True, slots=True)
class AdminTokens:
    """Bearer tokens of the admin API: ``write`` grants everything, ``read`` only reads."""

    write: str | None = field(default=None, repr=False)
    read: str | None = field(default=None, repr=False)


def admin_tokens(settings: Settings, environ: Mapping[str, str] | None = None) -> AdminTokens:
    """The tokens --admin-token-file / --admin-read-token-file (or their env) configure."""
    return AdminTokens(
        write=read_admin_token(settings.admin_token_file, ADMIN_TOKEN_ENV, environ),
        read=read_admin_token(settings.admin_read_token_file, ADMIN_READ_TOKEN_ENV, environ),
    )


def client_admin_token(path: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The token a CLI command sends to a proxy's admin API.

    The write token (``path``, else the files and variables ``skewguard run``
    reads), else the read token, which is enough for reads; None without any.
    """
    env = os.environ if environ is None else environ
    write_file = path or env.get(_env_of("admin_token_file"))
    token = read_admin_token(write_file, ADMIN_TOKEN_ENV, env)
    if token is None:
        read_file = env.get(_env_of("admin_read_token_file"))
        token = read_admin_token(read_file, ADMIN_READ_TOKEN_ENV, env)
    return token


#: Set by the supervisor (``--workers`` > 1) in each worker it starts: ``INDEX:FD:DIR``.
WORKER_ENV = "_SKEWGUARD_WORKER"


@dataclass(frozen=True, slots=True)
class WorkerSlot:
    """What a worker process is told by its supervisor (never set by an operator)."""

    index: int
    listen_fd: int  # its listening socket, inherited (its own on TCP, shared on a Unix socket)
    run_dir: str  # the supervisor's private directory: each worker's admin and peer sockets

    def environ(self) -> dict[str, str]:
        return {WORKER_ENV: f"{self.index}:{self.listen_fd}:{self.run_dir}"}

    @property
    def admin_path(self) -> str:
        """Where this worker serves the admin API to its supervisor."""
        return admin_socket(self.run_dir, self.index)


def admin_socket(run_dir: str, index: int) -> str:
    return os.path.join(run_dir, f"admin-{index}.sock")


def worker_slot(environ: Mapping[str, str] | None = None) -> WorkerSlot | None:
    """This process's slot when a supervisor started it, else None."""
    raw = (os.environ if environ is None else environ).get(WORKER_ENV)
    if not raw:
        return None
    index, fd, run_dir = raw.split(":", 2)
    return WorkerSlot(int(index), int(fd), run_dir)


def _env_of(name: str) -> str:
    return next(option.env for option in OPTIONS if option.name == name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare every option as a flag; values stay None unless given."""
    parser.add_argument("--config", metavar="FILE", help="TOML file whose [run] table sets options")
    for option in OPTIONS:
        default = "" if option.default is None else f" (default: {_shown(option.default)})"
        switch = {"nargs": "?", "const": "on"} if option.convert is _switch else {}
        parser.add_argument(
            option.flag,
            dest=option.name,
            default=None,
            metavar=option.metavar or option.convert.__doc__,
            help=f"{option.help}{default}; env {option.env}",
            **switch,  # type: ignore[arg-type]
        )


#: Settings a running proxy takes over on SIGHUP; the others need a restart.
RELOADABLE: frozenset[str] = frozenset(
    {
        "mode",
        "retain",
        "override_roles",
        "unparseable_ddl",
        "decision_timeout",
        "on_guard_error",
        "opaque_ddl",
        "rule_severity",
        "migrator_apps",
        "migrator_roles",
        "app_role",
        "log_level",
        "startup_timeout",
        "heartbeat_window",
        "max_client_conn",
        "max_analysed_statement",
    }
)


def reloaded(current: Settings, fresh: Settings) -> tuple[Settings, list[str], list[str]]:
    """(settings after a reload, names taken over, changed names that need a restart)."""
    names = [f.name for f in fields(Settings)]
    changed = [n for n in names if getattr(current, n) != getattr(fresh, n)]
    taken = [name for name in changed if name in RELOADABLE]
    updated = replace(current, **{name: getattr(fresh, name) for name in taken})
    return updated, taken, [name for name in changed if name not in RELOADABLE]


def _run_table(config_path: str | None) -> dict[str, Any]:
    """The ``[run]`` table of a TOML file (names with underscores); {} without a file."""
    if not config_path:
        return {}
    try:
        table = tomllib.loads(Path(config_path).read_text()).get("run", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {config_path}: {exc}") from exc
    if not isinstance(table, dict):
        raise ConfigError(f"{config_path}: [run] must be a table")
    table = {str(key).replace("-", "_"): value for key, value in table.items()}
    unknown = sorted(set(table) - {option.name for option in OPTIONS})
    if unknown:
        raise ConfigError(f"{config_path}: unknown setting(s) in [run]: {', '.join(unknown)}")
    return table


#: Where the commands that talk to a proxy or its state (check, versions, ready,
#: footprints) look for what a flag did not give: the variable, then ``--config``.
CLIENT_SOURCES = (
    ("admin", "SKEWGUARD_ADMIN"),
    ("state", "SKEWGUARD_STATE"),
    ("upstream", "SKEWGUARD_UPSTREAM"),
    ("database", "SKEWGUARD_DATABASE"),
)


def add_client_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="the proxy's TOML file: its [run] table's state, upstream and admin_listen "
        "(as the admin URL) stand in for flags not given; flags, then SKEWGUARD_ADMIN, "
        "SKEWGUARD_STATE, SKEWGUARD_UPSTREAM, SKEWGUARD_DATABASE, then the file",
    )


def fill_client_sources(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> None:
    """Fill the connection flags a client command was not given (see CLIENT_SOURCES).

    A source named on the command line is not joined by another: ``--state``
    given, SKEWGUARD_ADMIN is not read (and ``--admin`` given, no state or
    upstream is).
    """
    env = os.environ if environ is None else environ
    table = _run_table(getattr(args, "config", None) or env.get("SKEWGUARD_CONFIG"))
    listen = table.get("admin_listen")
    from_file = {
        "state": table.get("state"),
        "upstream": table.get("upstream"),
        "admin": _admin_url(str(listen)) if listen else None,
    }
    given = {name for name, _ in CLIENT_SOURCES if getattr(args, name, None)}
    for name, variable in CLIENT_SOURCES:
        if not hasattr(args, name) or name in given:
            continue
        if (name == "admin" and "state" in given) or (
            name in ("state", "upstream") and "admin" in given
        ):
            continue
        value = env.get(variable) or from_file.get(name)
        if value:
            setattr(args, name, str(value))


def _admin_url(listen: str) -> str:
    """``http://HOST:PORT`` for an ``admin_listen`` (a wildcard address: loopback)."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def load_settings(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """Merge flags, environment, TOML file and defaults into one Settings."""
    env = os.environ if environ is None else environ
    config_path = getattr(args, "config", None) or env.get("SKEWGUARD_CONFIG")
    table = _run_table(config_path)
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw = getattr(args, option.name, None)
        source = option.flag
        if raw is None and option.env in env:
            raw, source = env[option.env], option.env
        if raw is None and option.name in table:
            raw, source = str(table[option.name]), f"{config_path}: {option.name}"
        if raw is None:
            values[option.name] = option.default
            continue
        try:
            values[option.name] = option.convert(raw)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    try:
        return Settings(**values)
    except ConfigError as exc:
        raise ConfigError(f"invalid settings: {exc}") from None
