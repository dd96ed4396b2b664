"""The identity contract: app@version from startup parameters and later SETs."""

from __future__ import annotations

import pytest

from skewguard.identity import (
    TAG_BYTES,
    UNTAGGED,
    Identity,
    IdentityResolver,
    clipped,
    parse_options,
    startup_settings,
)
from skewguard.search_path import startup_path
from skewguard.statements import ApplicationNameChange, read_script

DEFAULT = IdentityResolver()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("orders@1.4.2", Identity("orders", "1.4.2")),
        ("orders@v2-rc.1+build.7", Identity("orders", "v2-rc.1+build.7")),
        ("a@b@c", Identity("a", "b@c")),  # the app stops at the first @
        ("orders@", UNTAGGED),
        ("@1.0", UNTAGGED),
        ("orders", UNTAGGED),
        ("", UNTAGGED),
        ("psql", UNTAGGED),
        ("my app@1.0", UNTAGGED),
        ("orders@1.0 beta", UNTAGGED),
    ],
)
def test_default_pattern(name: str, expected: Identity) -> None:
    assert DEFAULT.from_application_name(name) == expected


def test_custom_pattern_with_optional_version() -> None:
    resolver = IdentityResolver(r"^(?P<app>[a-z]+)(?:/(?P<version>\S+))?$")
    assert resolver.from_application_name("billing/7") == Identity("billing", "7")
    assert resolver.from_application_name("billing") == Identity("billing", "")
    assert resolver.from_application_name("Billing/7") == UNTAGGED


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"^(?P<app>.+)$", "lacks named group(s) version"),
        (r"^(.+)@(.+)$", "lacks named group(s) app, version"),
        (r"^(?P<app>[a-z+@(?P<version>.*)$", "not a valid regex"),
        (r"(", "not a valid regex"),
    ],
)
def test_invalid_pattern(pattern: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        IdentityResolver(pattern)


def test_identity_labels_and_str() -> None:
    assert str(Identity("a", "1")) == "a@1"
    assert Identity("a", "1").labels == ("a", "1")
    assert Identity("a", "1").tagged
    assert not UNTAGGED.tagged
    assert str(UNTAGGED) == "(untagged)"
    assert UNTAGGED.labels == ("(untagged)", "(untagged)")


# ---------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("-c skewguard.app=orders", {"skewguard.app": "orders"}),
        ("-cskewguard.app=orders", {"skewguard.app": "orders"}),
        ("--skewguard.app=orders", {"skewguard.app": "orders"}),
        (
            "-c skewguard.app=orders -cskewguard.version=1.2 --search-path=x",
            {"skewguard.app": "orders", "skewguard.version": "1.2", "search_path": "x"},
        ),
        ("-c application_name=my\\ app@1", {"application_name": "my app@1"}),
        ("-c a=back\\\\slash", {"a": "back\\slash"}),
        ("-c a=x\\=y", {"a": "x=y"}),
        ("-c a=b=c", {"a": "b=c"}),
        ("  -c   a=1  \t -c\nb=2 ", {"a": "1", "b": "2"}),
        ("-c A-B=1", {"a_b": "1"}),
        ("-c a=1 -c a=2", {"a": "2"}),
        ("-c a=", {"a": ""}),
        ("-c noequals", {}),
        ("-c", {}),
        ("-B 100 -c a=1", {"a": "1"}),
        ("", {}),
        ("-c a=x\xa0y", {"a": "x\xa0y"}),  # only C isspace() splits
    ],
)
def test_parse_options(options: str, expected: dict[str, str]) -> None:
    assert parse_options(options) == expected


# ---------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"application_name": "orders@1.2"}, Identity("orders", "1.2")),
        ({"options": "-c skewguard.app=orders -c skewguard.version=9"}, Identity("orders", "9")),
        ({"options": "-c skewguard.app=orders"}, Identity("orders", "")),
        ({"options": "-c skewguard.version=9"}, UNTAGGED),
        (
            {
                "application_name": "web@1",
                "options": "-c skewguard.app=orders -c skewguard.version=9",
            },
            Identity("orders", "9"),
        ),
        ({"options": "-c application_name=web@2"}, Identity("web", "2")),
        ({"options": "--application-name=web@2"}, Identity("web", "2")),
        # The server applies options first and the startup parameter last.
        (
            {"application_name": "web@1", "options": "-c application_name=web@2"},
            Identity("web", "1"),
        ),
        ({"application_name": "", "options": "-c application_name=web@2"}, UNTAGGED),
        ({"application_name": "psql"}, UNTAGGED),
        ({}, UNTAGGED),
    ],
)
def test_from_startup(params: dict[str, str], expected: Identity) -> None:
    assert DEFAULT.from_startup(params) == expected


# ---------------------------------------------------------------- SET and friends

SET = ApplicationNameChange
RESET = ApplicationNameChange(reset=True)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SET application_name = 'orders@2'", SET("orders@2")),
        ("set application_name to 'orders@2'", SET("orders@2")),
        ("SET SESSION application_name = 'orders@2'", SET("orders@2")),
        ("SET \"application_name\" = 'x@1'", SET("x@1")),
        ("SET application_name = orders", SET("orders")),
        ("SET application_name = 42", SET("42")),
        ("SET application_name TO DEFAULT", RESET),
        ("RESET application_name", RESET),
        ("RESET ALL", RESET),
        ("DISCARD ALL", RESET),
        ("SET LOCAL application_name = 'x@1'", None),
        ("SET search_path = public", None),
        ("RESET search_path", None),
        ("DISCARD PLANS", None),
        ("select set_config('application_name', 'x@1', false)", SET("x@1")),
        ("SELECT pg_catalog.set_config('application_name', 'x@1', false)", SET("x@1")),
        ("select set_config('application_name', 'x@1', true)", None),
        ("select set_config('application_name', $1, false)", None),
        ("select set_config('search_path', 'x', false)", None),
        ("select 1 from t where set_config('application_name', 'y@2', false) <> ''", SET("y@2")),
        ("SET application_name = 'a@1'; SET application_name = 'b@2'", SET("b@2")),
        ("SET application_name = 'a@1'; RESET application_name", RESET),
        ("RESET ALL; SET application_name = 'a@1'", SET("a@1")),
        ("SET application_name = 'a@1'; SET LOCAL application_name = 'b@2'", SET("a@1")),
        ("select 'application_name'", None),
        ("SET application_name = ", None),  # does not parse: left alone
    ],
)
def test_application_name_change(sql: str, expected: ApplicationNameChange | None) -> None:
    assert read_script(sql).application_name == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"user": "app", "application_name": "migrator@2.0.0"}, UNTAGGED),
        ({"user": "app", "options": "-c skewguard.app=migrator"}, UNTAGGED),
        ({"user": "deployer", "application_name": "shop@3"}, UNTAGGED),
        ({"user": "app", "application_name": "shop@3"}, Identity("shop", "3")),
    ],
)
def test_migration_runners_are_never_versions(params: dict[str, str], expected: Identity) -> None:
    resolver = IdentityResolver(migrator_apps=["migrator"], migrator_roles=["deployer"])
    assert resolver.from_startup(params) == expected


def test_a_migrator_role_stays_untagged_after_set_application_name() -> None:
    resolver = IdentityResolver(migrator_roles=["deployer"])
    assert resolver.from_application_name("shop@3", user="deployer") == UNTAGGED
    assert resolver.from_application_name("shop@3", user="app") == Identity("shop", "3")


def test_an_app_bound_to_roles_is_untagged_from_any_other_role() -> None:
    resolver = IdentityResolver(app_roles=[("shop", "shop_rw"), ("shop", "shop_admin")])
    assert resolver.from_startup({"user": "shop_rw", "application_name": "shop@1"}) == Identity(
        "shop", "1"
    )
    assert resolver.from_startup({"user": "shop_admin", "application_name": "shop@2"}).tagged
    assert resolver.from_startup({"user": "intruder", "application_name": "shop@999"}) == UNTAGGED
    assert resolver.from_startup({"user": "intruder", "application_name": "blog@1"}).tagged


def test_apps_bound_to_every_app_count_only_from_its_roles() -> None:
    """``*=ROLE``: a role that can merely log in claims no version of any app (300
    connections claiming 32 versions each made every DDL decision unjudgeable)."""
    resolver = IdentityResolver(app_roles=[("*", "apps"), ("shop", "shop_rw")])
    assert resolver.from_startup({"user": "apps", "application_name": "blog@1"}).tagged
    assert resolver.from_startup({"user": "intruder", "application_name": "blog@1"}) == UNTAGGED
    assert resolver.from_application_name("many@7", user="intruder") == UNTAGGED
    assert resolver.from_startup({"user": "shop_rw", "application_name": "shop@1"}).tagged
    assert resolver.from_startup({"user": "apps", "application_name": "shop@1"}) == UNTAGGED


def test_startup_settings_are_read_as_the_backend_applies_them() -> None:
    """``options`` first, then the other parameters (case-insensitive names)."""
    params = {
        "user": "app",
        "options": "-c search_path=archive -c work_mem=1MB",
        "SEARCH_PATH": "public",
        "_pq_.x": "1",
    }
    assert startup_settings(params) == {"search_path": "public", "work_mem": "1MB"}
    assert startup_path(params) == ("public",)


def test_a_claimed_tag_is_read_no_further_than_postgresql_shows_it() -> None:
    """A 9000-byte tag became a 9000-byte version in the API and a /metrics label."""
    resolver = IdentityResolver()
    identity = resolver.from_application_name("shop@" + "9" * 9000)
    assert identity == Identity("shop", "9" * (TAG_BYTES - len("shop@")))
    started = resolver.from_startup({"options": f"-c skewguard.app={'a' * 100}"})
    assert started.app == "a" * TAG_BYTES


def test_a_tag_is_cut_at_a_character_boundary() -> None:
    name = "app@" + "é" * 40  # two bytes each: byte 63 falls inside a character
    version = IdentityResolver().from_application_name(name).version
    assert len(("app@" + version).encode()) == TAG_BYTES - 1
    assert clipped("short@1") == "short@1"
