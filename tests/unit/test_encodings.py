"""Client encodings that can hide a backslash: texts split as PostgreSQL splits them."""

from __future__ import annotations

import pytest

from skewguard.statements import Kind, read_script, same_effect
from skewguard.wire.encodings import ANY, character_set, decode, hiding, readings

DROP = b"ALTER TABLE users DROP COLUMN email"
#: 0x95 0x5C is one SJIS character (U+8868); as UTF-8 readers see it, a bad byte and a
#: backslash that escapes the quote after it.
HIDING = b"SELECT E'\x95\\'; " + DROP + b"; --'"


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("SJIS", "SJIS"),
        ("Shift_JIS", "SJIS"),
        ("windows-932", "SJIS"),
        ("shift_jis_2004", "SHIFT_JIS_2004"),
        ("gbk", "GBK"),
        ("WIN936", "GBK"),
        ("big5", "BIG5"),
        ("UHC", "UHC"),
        ("gb18030", "GB18030"),
        ("johab", "JOHAB"),
        ("UTF8", None),
        ("LATIN1", None),
        ("EUC_JP", None),  # a server encoding: every byte of a character is >= 0x80
    ],
)
def test_encodings_that_hide_a_backslash(name: str, canonical: str | None) -> None:
    assert hiding(name) == canonical


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("LATIN1", "LATIN1"),
        ("iso-8859-1", "LATIN1"),
        ("ISO_8859_15", "LATIN9"),
        ("windows-1252", "WIN1252"),
        ("koi8", "KOI8R"),
        ("EUC_JP", "EUC_JP"),
        ("euc-tw", "EUC_TW"),
        ("sjis", "SJIS"),
        ("UTF8", None),
        ("SQL_ASCII", None),
    ],
)
def test_encodings_whose_characters_are_not_utf8(name: str, canonical: str | None) -> None:
    assert character_set(name) == canonical


@pytest.mark.parametrize(
    ("data", "encoding", "text"),
    [
        (b"\x95\\", "SJIS", "\u8868"),
        (b"\xb1\\", "SJIS", "\uff71\\"),  # half-width katakana: one byte
        (b"\x81\\", "GBK", "\u4e57"),
        (b"\x81\x30\x81\x30", "GB18030", "\x80"),  # four bytes
        (b"abc", "SJIS", "abc"),
        (b"\xff\\", "SJIS", "\ufffd"),  # no such character: the server refuses the text
        (b"caf\xe9", "LATIN1", "caf\xe9"),
        (b"\x80", "WIN1252", "\u20ac"),
        (b"\xc1", "KOI8R", "\u0430"),
        (b"a\xa4\xa4b", "EUC_TW", "a\ufffd\ufffdb"),  # no codec: unknown characters
    ],
)
def test_characters_are_split_as_the_server_splits_them(
    data: bytes, encoding: str, text: str
) -> None:
    assert decode(data, encoding) == text


def test_a_hidden_statement_is_seen_in_the_sessions_encoding() -> None:
    assert [s.kind for s in read_script(decode(HIDING, None)).statements] == [Kind.OTHER]
    sjis = read_script(decode(HIDING, "SJIS"))
    assert [s.kind for s in sjis.statements] == [Kind.OTHER, Kind.DDL]


def test_any_encoding_reads_every_way() -> None:
    texts = readings(HIDING, (None, ANY))
    assert len(texts) == 5
    scripts = [read_script(t) for t in texts]
    assert not all(same_effect(scripts[0], s) for s in scripts[1:])


@pytest.mark.parametrize(
    ("sql", "value"),
    [
        ("SET client_encoding = 'SJIS'", "SJIS"),
        ("SET NAMES 'gbk'", "gbk"),
        ("SET LOCAL client_encoding = 'SJIS'", ANY),  # undone at the transaction's end
        ("RESET client_encoding", ANY),
        ("RESET ALL", ANY),
        ("SELECT set_config('client_encoding', 'BIG5', false)", "BIG5"),
        ("SELECT set_config('client_encoding', 'BIG5', true)", ANY),
        ("SELECT set_config(lower('CLIENT_ENCODING'), 'BIG5', false)", ANY),
        ("SET work_mem = '1MB'", None),
    ],
)
def test_client_encoding_changes_are_followed(sql: str, value: str | None) -> None:
    changes = read_script(sql).client_encodings
    assert changes == ([value] if value else [])
