"""Names PostgreSQL cuts at 63 bytes of the database's encoding, the parser at 63 of
UTF-8: where they differ, a text naming one is not judged."""

from __future__ import annotations

import pytest

from skewguard.name_length import cut_otherwise

LONG = "é" * 40  # 40 bytes in LATIN1, 80 in UTF-8


@pytest.mark.parametrize(
    ("text", "encoding", "cut"),
    [
        (f'ALTER TABLE t DROP COLUMN "{LONG}"', "LATIN1", True),
        (f"ALTER TABLE t DROP COLUMN {LONG}", "WIN1252", True),
        (f'ALTER TABLE t DROP COLUMN "x""{LONG}"', "SQL_ASCII", True),
        ('DROP TABLE U&"' + "\\00e9" * 13 + '"', "LATIN1", True),  # 65 bytes as written
        (f'ALTER TABLE t DROP COLUMN "{LONG}"', "UTF8", False),  # cut alike
        ("ALTER TABLE t DROP COLUMN " + "e" * 70, "LATIN1", False),  # ASCII: alike
        (f'ALTER TABLE t DROP COLUMN "{"é" * 31}"', "LATIN1", False),  # 62 bytes: whole
        (f"SELECT '{LONG}'", "LATIN1", False),  # a literal is no name
        (f"-- {LONG}\nSELECT 1", "LATIN1", False),
    ],
)
def test_a_name_cut_elsewhere_is_found(text: str, encoding: str, cut: bool) -> None:
    assert cut_otherwise(text, encoding) is cut
