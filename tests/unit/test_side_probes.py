"""The pure parts of side-connection probes: what runs before a probe, and which probe
texts could leave the role they run as."""

from __future__ import annotations

from skewguard.side_probes import leaves_role, setup


def test_the_setup_sets_the_sessions_path_then_its_role_inside_the_transaction() -> None:
    assert setup('mal"lory', ("$user", "Public")) == [
        'SET LOCAL search_path = "$user", "Public"',
        'SET LOCAL ROLE "mal""lory"',
    ]


def test_a_probe_that_must_see_every_row_turns_row_security_off() -> None:
    """PostgreSQL then refuses the query where a policy would filter it (no answer)."""
    assert setup("owner", None, every_row=True) == [
        "SET LOCAL row_security = off",
        'SET LOCAL ROLE "owner"',
    ]


def test_an_unknown_path_and_the_logins_own_role_set_nothing() -> None:
    assert setup(None, None) == []
    assert setup(None, ()) == ["SET LOCAL search_path = ''"]


def test_a_probe_calling_set_config_or_running_a_string_would_leave_its_role() -> None:
    assert leaves_role(
        "SELECT EXISTS (SELECT 1 FROM t WHERE NOT (Set_Config('role', 'none', true) <> ''))"
    )
    assert leaves_role(
        "SELECT EXISTS (SELECT 1 FROM t WHERE NOT (query_to_xml('', true, false, '') IS NULL))"
    )
    assert leaves_role(
        "SELECT EXISTS (SELECT 1 FROM t WHERE NOT (U&\"set\\005fconfig\"('role', 'x', true) = ''))"
    )
    assert not leaves_role("SELECT EXISTS (SELECT 1 FROM t WHERE NOT (a > 0))")
