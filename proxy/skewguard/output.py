"""How the commands print: one ``--format`` option everywhere (``--json`` is short for it)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def add_format_argument(
    parser: argparse.ArgumentParser, formats: Sequence[str] = ("text", "json")
) -> None:
    parser.add_argument(
        "--format",
        choices=list(formats),
        default=formats[0],
        help=f"output format (default: {formats[0]})",
    )
    parser.add_argument(
        "--json", action="store_const", const="json", dest="format", help="short for --format json"
    )


__all__ = ["add_format_argument"]
