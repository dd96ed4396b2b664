"""What a command loads: each subcommand's module is imported only when that command runs."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from skewguard.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(' '.join(sorted(sys.modules)), file=sys.stderr)
"""

HEAVY = {"asyncpg", "psycopg", "pglast", "skewguard.store", "skewguard.backstop"}


def _loaded(*argv: str) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout, set(done.stderr.split())


def test_top_level_help_loads_no_command_module() -> None:
    shown, loaded = _loaded("--help")
    assert "backstop" in shown and "footprints" in shown
    assert not HEAVY & loaded, HEAVY & loaded


def test_a_command_loads_its_own_module_only() -> None:
    shown, loaded = _loaded("versions", "--help")
    assert "--facets" in shown
    assert "skewguard.versions_cli" in loaded
    assert not {"skewguard.backstop", "skewguard.check_cli", "skewguard.demo"} & loaded
