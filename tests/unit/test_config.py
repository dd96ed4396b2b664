"""Settings: flag > SKEWGUARD_* env > [run] in the TOML file > default; errors name the setting."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from skewguard.config import (
    OPTIONS,
    AdminTokens,
    ConfigError,
    Settings,
    add_arguments,
    admin_tokens,
    client_admin_token,
    fill_client_sources,
    load_settings,
    parse_duration,
    parse_hostport,
    parse_listen,
    parse_upstream,
)
from skewguard.identity import DEFAULT_PATTERN


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "skewguard.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    settings = load_settings(_args(), {})
    assert settings == Settings()
    assert settings.listen_address == ("127.0.0.1", 6432)
    assert settings.admin_address == ("127.0.0.1", 9632)
    assert settings.upstream is None
    assert settings.identity_pattern == DEFAULT_PATTERN
    assert settings.shutdown_grace == 30.0


def test_every_option_has_flag_and_env() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    helps = {action.dest: action.help or "" for action in parser._actions}
    for option in OPTIONS:
        assert option.env in helps[option.name]
        assert parser.parse_args([option.flag, "x"]).__dict__[option.name] == "x"


@pytest.mark.parametrize(
    ("flag", "env", "toml", "expected"),
    [
        ("127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003", ("127.0.0.1", 1001)),
        (None, "127.0.0.1:1002", "127.0.0.1:1003", ("127.0.0.1", 1002)),
        (None, None, "127.0.0.1:1003", ("127.0.0.1", 1003)),
        (None, None, None, ("127.0.0.1", 6432)),
    ],
    ids=["flag", "env", "toml", "default"],
)
def test_precedence(
    tmp_path: Path, flag: str | None, env: str | None, toml: str | None, expected: tuple[str, int]
) -> None:
    config = _toml(tmp_path, f'[run]\nlisten = "{toml}"\n' if toml else "[run]\n")
    argv = ["--config", str(config)] + (["--listen", flag] if flag else [])
    environ = {"SKEWGUARD_LISTEN": env} if env else {}
    assert load_settings(_args(*argv), environ).listen_address == expected


def test_config_file_from_env(tmp_path: Path) -> None:
    config = _toml(tmp_path, '[run]\nlog-level = "debug"\nshutdown_grace = 5\n')
    settings = load_settings(_args(), {"SKEWGUARD_CONFIG": str(config)})
    assert settings.log_level == "debug"  # dashed keys are accepted too
    assert settings.shutdown_grace == 5.0


def test_precedence_is_per_setting(tmp_path: Path) -> None:
    config = _toml(tmp_path, '[run]\nlog_level = "error"\nlog_format = "json"\n')
    settings = load_settings(
        _args("--config", str(config), "--log-level", "debug"),
        {"SKEWGUARD_SHUTDOWN_GRACE": "2m"},
    )
    assert (settings.log_level, settings.log_format, settings.shutdown_grace) == (
        "debug",
        "json",
        120.0,
    )


@pytest.mark.parametrize(
    ("argv", "environ", "toml", "words"),
    [
        (["--log-level", "loud"], {}, None, "--log-level: expected one of"),
        ([], {"SKEWGUARD_LOG_FORMAT": "xml"}, None, "SKEWGUARD_LOG_FORMAT: expected one of"),
        ([], {}, 'log_format = "xml"', "skewguard.toml: log_format: expected one of"),
        (["--shutdown-grace", "soon"], {}, None, "--shutdown-grace: expected a duration"),
        ([], {"SKEWGUARD_SHUTDOWN_GRACE": "-5s"}, None, "SKEWGUARD_SHUTDOWN_GRACE: expected"),
        (["--listen", "6432"], {}, None, "--listen: expected HOST:PORT"),
        ([], {"SKEWGUARD_ADMIN_LISTEN": "x:99999"}, None, "SKEWGUARD_ADMIN_LISTEN: port out"),
        (["--upstream", "mysql://x"], {}, None, "--upstream: --upstream must be a postgresql"),
        (
            [],
            {"SKEWGUARD_UPSTREAM": "postgresql://h/db?sslmode=required"},
            None,
            "SKEWGUARD_UPSTREAM: unknown sslmode 'required'",
        ),
        ([], {}, 'identity_pattern = "(?P<app>.*)"', "identity_pattern: identity pattern"),
        (["--identity-pattern", "("], {}, None, "--identity-pattern: identity pattern"),
        ([], {}, 'lisen = "127.0.0.1:1"', "unknown setting(s) in [run]: lisen"),
        ([], {}, "run = 5", "[run] must be a table"),
        ([], {}, "[run\n", "cannot read config file"),
        (["--tls-cert", "c.pem"], {}, None, "--tls-cert and --tls-key must be given together"),
        (["--backstop-sync-interval", "0"], {}, None, "greater than zero"),
    ],
)
def test_errors_name_the_setting(
    tmp_path: Path, argv: list[str], environ: dict[str, str], toml: str | None, words: str
) -> None:
    if toml is not None:
        body = toml if toml.startswith(("run", "[run")) else f"[run]\n{toml}\n"
        argv = [*argv, "--config", str(_toml(tmp_path, body))]
    with pytest.raises(ConfigError) as info:
        load_settings(_args(*argv), environ)
    assert words in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(_args("--config", str(tmp_path / "nope.toml")), {})


def test_settings_validate_when_built_directly() -> None:
    with pytest.raises(ConfigError, match="--admin-listen: expected HOST:PORT"):
        Settings(admin_listen="nowhere")
    with pytest.raises(ConfigError, match="--upstream: bad port"):
        Settings(upstream="postgresql://h:0/db")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("1.5m", 90.0),
        ("15m", 900.0),
        ("24h", 86400.0),
        ("7d", 604800.0),
        (" 2S ", 2.0),
        ("0", 0.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "soon", "5 minutes", "-1s", "inf", "nan", "5w"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="expected a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:6432", ("127.0.0.1", 6432)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        (":5000", ("127.0.0.1", 5000)),
        ("[::1]:6432", ("::1", 6432)),
        ("localhost:1", ("localhost", 1)),
    ],
)
def test_parse_hostport(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text) == expected


@pytest.mark.parametrize("text", ["6432", "host:", "host:port", "host:65536", "host:-1"])
def test_parse_hostport_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_hostport(text)


@pytest.mark.parametrize(
    ("listen", "address", "port"),
    [
        ("127.0.0.1:6432", ("127.0.0.1", 6432), 6432),
        ("unix:/run/sg/.s.PGSQL.6432", "/run/sg/.s.PGSQL.6432", 6432),
        ("unix:/run/sg/proxy.sock", "/run/sg/proxy.sock", 0),
    ],
)
def test_listen_on_tcp_or_a_unix_socket(
    listen: str, address: tuple[str, int] | str, port: int
) -> None:
    assert parse_listen(listen) == address
    settings = Settings(listen=listen)
    assert settings.listen_address == address
    assert settings.listen_port == port


@pytest.mark.parametrize("text", ["unix:relative/.s.PGSQL.1", "unix:", "6432"])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_listen(text)


@pytest.mark.parametrize(
    ("url", "host", "port", "sslmode", "user", "password", "database", "socket"),
    [
        (
            "postgresql://app:s3cr%40t@db.internal:5433/orders?sslmode=require",
            "db.internal", 5433, "require", "app", "s3cr@t", "orders", None,
        ),
        ("postgres://localhost/x", "localhost", 5432, "prefer", None, None, "x", None),
        ("postgresql://", "127.0.0.1", 5432, "prefer", None, None, None, None),
        ("postgresql://[::1]:6000/db", "::1", 6000, "prefer", None, None, "db", None),
        (
            "postgresql://u@%2Fvar%2Frun%2Fpostgresql/db",
            "/var/run/postgresql", 5432, "prefer", "u", None, "db",
            "/var/run/postgresql/.s.PGSQL.5432",
        ),
        (
            "postgresql:///db?host=/tmp/Sockets&port=5499&sslmode=disable",
            "/tmp/Sockets", 5499, "disable", None, None, "db", "/tmp/Sockets/.s.PGSQL.5499",
        ),
        (
            "postgresql://h/d%20b?sslmode=verify-full",
            "h", 5432, "verify-full", None, None, "d b", None,
        ),
    ],
)  # fmt: skip
def test_parse_upstream(
    url: str,
    host: str,
    port: int,
    sslmode: str,
    user: str | None,
    password: str | None,
    database: str | None,
    socket: str | None,
) -> None:
    upstream = parse_upstream(url)
    assert (upstream.host, upstream.port, upstream.sslmode) == (host, port, sslmode)
    assert (upstream.user, upstream.password, upstream.database) == (user, password, database)
    assert upstream.unix_socket == socket
    assert upstream.url == url


@pytest.mark.parametrize(
    "sslmode", ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
)
def test_every_libpq_sslmode_is_accepted(sslmode: str) -> None:
    assert parse_upstream(f"postgresql://h/db?sslmode={sslmode}").sslmode == sslmode


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://h/db", "must be a postgresql:// URL"),
        ("h:5432", "must be a postgresql:// URL"),
        ("postgresql://h:port/db", "bad port"),
        ("postgresql://h:70000/db", "bad port"),
        ("postgresql://h/db?port=0", "bad port"),
        ("postgresql://h/db?sslmode=Require", "unknown sslmode 'Require'"),
        ("postgresql://h/db?sslmode=on", "unknown sslmode"),
    ],
)
def test_parse_upstream_rejects(url: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_upstream(url)


def test_reloaded_takes_runtime_settings_and_names_the_rest() -> None:
    from skewguard.config import Settings, reloaded

    current = Settings(mode="enforce", listen="127.0.0.1:6432")
    fresh = Settings(mode="warn", listen="127.0.0.1:7000", override_roles=("dba",))
    updated, taken, ignored = reloaded(current, fresh)
    assert (updated.mode, updated.override_roles, updated.listen) == (
        "warn",
        ("dba",),
        "127.0.0.1:6432",
    )
    assert sorted(taken) == ["mode", "override_roles"] and ignored == ["listen"]


def test_admin_tokens_from_files_and_environment(tmp_path: Path) -> None:
    write = tmp_path / "write"
    write.write_text("w" * 20 + "\n")  # the trailing newline is not part of the token
    settings = load_settings(_args("--admin-token-file", str(write)), {})
    env = {"SKEWGUARD_ADMIN_TOKEN": "e" * 20, "SKEWGUARD_ADMIN_READ_TOKEN": "r" * 20}
    assert admin_tokens(settings, env) == AdminTokens(write="w" * 20, read="r" * 20)
    assert admin_tokens(Settings(), env) == AdminTokens(write="e" * 20, read="r" * 20)
    assert admin_tokens(Settings(), {}) == AdminTokens()
    assert "w" * 20 not in repr(admin_tokens(settings, env))


def test_bad_admin_tokens_stop_the_start(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abc")
    with pytest.raises(ConfigError, match="at least 16"):
        admin_tokens(Settings(admin_token_file=str(short)), {})
    with pytest.raises(ConfigError, match="cannot read admin token file"):
        admin_tokens(Settings(admin_read_token_file=str(tmp_path / "missing")), {})
    with pytest.raises(ConfigError, match="SKEWGUARD_ADMIN_TOKEN"):
        admin_tokens(Settings(), {"SKEWGUARD_ADMIN_TOKEN": "short"})


def test_client_token_prefers_write_then_read(tmp_path: Path) -> None:
    read = tmp_path / "read"
    read.write_text("r" * 20)
    assert client_admin_token(None, {"SKEWGUARD_ADMIN_READ_TOKEN_FILE": str(read)}) == "r" * 20
    env = {"SKEWGUARD_ADMIN_TOKEN": "w" * 20, "SKEWGUARD_ADMIN_READ_TOKEN": "r" * 20}
    assert client_admin_token(None, env) == "w" * 20
    assert client_admin_token(None, {}) is None


def test_keep_literals_is_a_switch_and_audit_bounds_parse() -> None:
    assert load_settings(_args("--keep-literals"), {}).keep_literals is True
    assert load_settings(_args(), {"SKEWGUARD_KEEP_LITERALS": "off"}).keep_literals is False
    with pytest.raises(ConfigError, match="SKEWGUARD_KEEP_LITERALS"):
        load_settings(_args(), {"SKEWGUARD_KEEP_LITERALS": "maybe"})
    settings = load_settings(_args("--audit-retention", "7d", "--audit-max-rows", "500"), {})
    assert (settings.audit_retention, settings.audit_max_rows) == (7 * 86400, 500)
    with pytest.raises(ConfigError, match="--audit-max-rows"):
        load_settings(_args("--audit-max-rows", "-1"), {})


def test_app_role_pairs() -> None:
    settings = load_settings(_args("--app-role", "orders=orders_rw, shop=shop_rw"), {})
    assert settings.app_role == (("orders", "orders_rw"), ("shop", "shop_rw"))
    with pytest.raises(ConfigError, match="APP=ROLE"):
        load_settings(_args("--app-role", "orders"), {})


def test_upstream_accepts_libpq_keywords_as_libpq_reads_them() -> None:
    upstream = parse_upstream("host=db.internal port=6543 dbname='my app' user=svc sslmode=require")
    assert (upstream.host, upstream.port, upstream.database) == ("db.internal", 6543, "my app")
    assert (upstream.user, upstream.sslmode) == ("svc", "require")
    assert parse_upstream("host=/var/run/postgresql").unix_socket == (
        "/var/run/postgresql/.s.PGSQL.5432"
    )
    with pytest.raises(ConfigError, match="several hosts"):
        parse_upstream("postgresql://a,b/db")


def test_upstream_tls_files_are_read_as_libpq_reads_them(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not read here")
    url = f"postgresql://u@db/app?sslmode=verify-ca&sslrootcert={ca}"
    assert parse_upstream(url).sslrootcert == str(ca)
    with pytest.raises(ConfigError, match="sslrootcert in --upstream: no such file"):
        parse_upstream(f"postgresql://u@db/app?sslmode=verify-ca&sslrootcert={ca}.gone")
    with pytest.raises(ConfigError, match="needs sslmode=verify-full"):
        parse_upstream("postgresql://u@db/app?sslmode=require&sslrootcert=system")
    with pytest.raises(ConfigError, match="both sslcert and sslkey"):
        parse_upstream(f"postgresql://u@db/app?sslcert={ca}")


def _client_args(**given: str | None) -> argparse.Namespace:
    fields = {"admin": None, "state": None, "upstream": None, "database": None, "config": None}
    return argparse.Namespace(**{**fields, **given})


def test_client_commands_read_flags_then_variables_then_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "skewguard.toml"
    config.write_text(
        '[run]\nadmin-listen = "0.0.0.0:9632"\nstate = "/var/lib/sg.db"\n'
        'upstream = "postgresql://db/app"\n'
    )
    args = _client_args(config=str(config))
    fill_client_sources(args, {})
    assert (args.admin, args.state) == ("http://127.0.0.1:9632", "/var/lib/sg.db")
    assert args.upstream == "postgresql://db/app"
    args = _client_args(config=str(config))
    fill_client_sources(args, {"SKEWGUARD_ADMIN": "http://proxy:9632", "SKEWGUARD_DATABASE": "x"})
    assert (args.admin, args.database) == ("http://proxy:9632", "x")
    args = _client_args(admin="http://flag:1", config=str(config))
    fill_client_sources(args, {"SKEWGUARD_ADMIN": "http://env:2"})
    assert (args.admin, args.state, args.upstream) == ("http://flag:1", None, None)
    args = _client_args(state="/tmp/given.db")
    fill_client_sources(args, {"SKEWGUARD_ADMIN": "http://env:2", "SKEWGUARD_UPSTREAM": "u"})
    assert (args.admin, args.state, args.upstream) == (None, "/tmp/given.db", "u")
    with pytest.raises(ConfigError, match="unknown setting"):
        (tmp_path / "bad.toml").write_text('[run]\nadmin-url = "x"\n')
        fill_client_sources(_client_args(config=str(tmp_path / "bad.toml")), {})
