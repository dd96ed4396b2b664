"""Client encodings whose characters can hide a backslash, and reading text as the server does.

PostgreSQL converts a client's text to the server encoding before it parses
it. Every server encoding is ASCII-safe (a byte below 0x80 is always that ASCII
character), but the client-only encodings SJIS, SHIFT_JIS_2004, BIG5, GBK, UHC,
GB18030 and JOHAB have two-byte characters whose second byte may be 0x5C, the
backslash. Read as UTF-8, ``E'<0x95 0x5C>'; DROP ...; --'`` is one string; read
as SJIS (as the server does) it is a one-character string, then the DROP. So a
session's text is split into characters with the lengths the server's
``pg_encoding_mblen`` gives them, never as UTF-8, when the session's
client_encoding is one of these.

Other client encodings split a text as UTF-8 does (every byte of a non-ASCII
character is >= 0x80), but their characters are other characters: a LATIN1
``caf\xe9`` is the identifier ``café`` PostgreSQL stores. Their texts are
decoded with their own codec, so names match what the server sees (EUC_TW and
MULE_INTERNAL have none: DDL with one of their characters is not judged).
"""

from __future__ import annotations

import re

#: PostgreSQL's name of each such encoding → the Python codec for its characters.
CODECS = {
    "SJIS": "cp932",
    "SHIFT_JIS_2004": "shift_jis_2004",
    "BIG5": "cp950",
    "GBK": "gbk",
    "UHC": "cp949",
    "GB18030": "gb18030",
    "JOHAB": "johab",
}

#: PostgreSQL's accepted spellings of them (encnames.c, after clean_encoding_name).
_ALIASES = {
    "sjis": "SJIS",
    "shiftjis": "SJIS",
    "mskanji": "SJIS",
    "win932": "SJIS",
    "windows932": "SJIS",
    "shiftjis2004": "SHIFT_JIS_2004",
    "big5": "BIG5",
    "win950": "BIG5",
    "windows950": "BIG5",
    "gbk": "GBK",
    "win936": "GBK",
    "windows936": "GBK",
    "uhc": "UHC",
    "win949": "UHC",
    "windows949": "UHC",
    "gb18030": "GB18030",
    "johab": "JOHAB",
}

#: Client encodings that split as UTF-8 does but name other characters → their codec
#: (PostgreSQL's conversion to UTF-8 maps each as Python's codec does).
TRANSLATED = {
    "LATIN1": "iso8859_1",
    "LATIN2": "iso8859_2",
    "LATIN3": "iso8859_3",
    "LATIN4": "iso8859_4",
    "LATIN5": "iso8859_9",
    "LATIN6": "iso8859_10",
    "LATIN7": "iso8859_13",
    "LATIN8": "iso8859_14",
    "LATIN9": "iso8859_15",
    "LATIN10": "iso8859_16",
    "ISO_8859_5": "iso8859_5",
    "ISO_8859_6": "iso8859_6",
    "ISO_8859_7": "iso8859_7",
    "ISO_8859_8": "iso8859_8",
    "WIN866": "cp866",
    "WIN874": "cp874",
    "WIN1250": "cp1250",
    "WIN1251": "cp1251",
    "WIN1252": "cp1252",
    "WIN1253": "cp1253",
    "WIN1254": "cp1254",
    "WIN1255": "cp1255",
    "WIN1256": "cp1256",
    "WIN1257": "cp1257",
    "WIN1258": "cp1258",
    "KOI8R": "koi8_r",
    "KOI8U": "koi8_u",
    "EUC_JP": "euc_jp",
    "EUC_CN": "gb2312",
    "EUC_KR": "euc_kr",
    "EUC_JIS_2004": "euc_jis_2004",
}

#: Client encodings that split as UTF-8 does but that no Python codec reads: their
#: non-ASCII characters are read as U+FFFD, and a text with one is not judged.
UNREADABLE = frozenset({"EUC_TW", "MULE_INTERNAL"})

#: Their spellings PostgreSQL accepts besides the canonical ones (encnames.c).
_TRANSLATED_ALIASES = {
    "iso88591": "LATIN1",
    "iso88592": "LATIN2",
    "iso88593": "LATIN3",
    "iso88594": "LATIN4",
    "iso88599": "LATIN5",
    "iso885910": "LATIN6",
    "iso885913": "LATIN7",
    "iso885914": "LATIN8",
    "iso885915": "LATIN9",
    "iso885916": "LATIN10",
    "iso88595": "ISO_8859_5",
    "iso88596": "ISO_8859_6",
    "iso88597": "ISO_8859_7",
    "iso88598": "ISO_8859_8",
    "alt": "WIN866",
    "windows866": "WIN866",
    "windows874": "WIN874",
    "tcvn": "WIN1258",
    "tcvn5712": "WIN1258",
    "abc": "WIN1258",
    "vscii": "WIN1258",
    "koi8": "KOI8R",
    **{f"windows{n}": f"WIN{n}" for n in range(1250, 1259)},
    **{name.lower().replace("_", ""): name for name in (*TRANSLATED, *UNREADABLE)},
}

#: A client encoding the proxy cannot name (computed, or reset to a default it did not see).
ANY = "*"

#: The encodings that split a text differently: every other one reads as one of these.
DISTINCT_READINGS = ("SJIS", "BIG5", "GB18030", "JOHAB")

_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
#: Every non-ASCII byte (read as Latin-1) → U+FFFD.
_UNKNOWN_CHARACTERS = {code: "\ufffd" for code in range(0x80, 0x100)}


def hiding(name: str) -> str | None:
    """The canonical name of ``name`` when it is one of these encodings, else None.

    Like PostgreSQL's clean_encoding_name: case and non-alphanumerics are ignored.
    """
    cleaned = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum())
    return _ALIASES.get(cleaned)


def character_set(name: str) -> str | None:
    """The canonical name of ``name`` when its texts do not read as UTF-8 (it hides a
    backslash, or names other characters), else None."""
    cleaned = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum())
    return _ALIASES.get(cleaned) or _TRANSLATED_ALIASES.get(cleaned)


def _length(encoding: str, data: bytes, at: int) -> int:
    """pg_encoding_mblen for the character starting at ``at`` (a byte >= 0x80)."""
    first = data[at]
    if encoding in ("SJIS", "SHIFT_JIS_2004"):
        return 1 if 0xA1 <= first <= 0xDF else 2  # half-width katakana are one byte
    if encoding == "GB18030":
        return 4 if at + 1 < len(data) and 0x30 <= data[at + 1] <= 0x39 else 2
    if encoding == "JOHAB":  # read as EUC
        return 3 if first == 0x8F else 2
    return 2


def decode(data: bytes, encoding: str | None) -> str:
    """``data`` as text: UTF-8 when ``encoding`` is None, else that encoding's
    characters (as ``character_set`` names it)."""
    if encoding is None or _HIGH_BYTE.search(data) is None:
        return data.decode("utf-8", "replace")
    if encoding in TRANSLATED:  # an unmapped byte: the server refuses the text
        return data.decode(TRANSLATED[encoding], "replace")
    if encoding in UNREADABLE:
        return data.decode("latin-1").translate(_UNKNOWN_CHARACTERS)
    codec = CODECS[encoding]
    out: list[str] = []
    start = at = 0
    end = len(data)
    while at < end:
        if data[at] < 0x80:
            at += 1
            continue
        out.append(data[start:at].decode("ascii"))
        size = _length(encoding, data, at)
        try:
            char = data[at : at + size].decode(codec)
        except UnicodeDecodeError:
            char = ""
        # not one character: the server refuses such a text, nothing of it runs
        out.append(char if len(char) == 1 else "\ufffd")
        at += size
        start = at
    out.append(data[start:end].decode("ascii"))
    return "".join(out)


def readings(data: bytes, encodings: tuple[str | None, ...]) -> list[str]:
    """``data`` read in each of ``encodings`` (ANY: every way a text can split)."""
    names: list[str | None] = []
    for encoding in encodings:
        for name in (None, *DISTINCT_READINGS) if encoding == ANY else (encoding,):
            if name not in names:
                names.append(name)
    return [decode(data, name) for name in names]
