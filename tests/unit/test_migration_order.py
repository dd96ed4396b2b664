"""`skewguard check DIR` applies files in the order migration tools run them."""

from __future__ import annotations

from pathlib import Path

from skewguard.check_cli import migration_order


def ordered(names: list[str]) -> list[str]:
    root = Path("/migrations")
    return [
        p.relative_to(root).as_posix()
        for p in sorted((root / n for n in names), key=lambda p: migration_order(p, root))
    ]


def test_flyway_versions_compare_as_numbers() -> None:
    names = ["V10__contract.sql", "V2__expand.sql", "V1__init.sql", "V1_1__fix.sql"]
    assert ordered(names) == [
        "V1__init.sql",
        "V1_1__fix.sql",
        "V2__expand.sql",
        "V10__contract.sql",
    ]


def test_padded_and_timestamped_names_keep_their_text_order() -> None:
    names = ["0002_add.sql", "0010_drop.sql", "0001_init.sql"]
    assert ordered(names) == ["0001_init.sql", "0002_add.sql", "0010_drop.sql"]
    stamps = ["20261127120000_b.sql", "20250101000000_a.sql"]
    assert ordered(stamps) == ["20250101000000_a.sql", "20261127120000_b.sql"]


def test_directories_order_before_their_files_by_the_same_rule() -> None:
    names = ["v10/a.sql", "v9/b.sql", "v9/a.sql"]
    assert ordered(names) == ["v9/a.sql", "v9/b.sql", "v10/a.sql"]
