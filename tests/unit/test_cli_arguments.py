"""Argument mistakes get a one-line error and exit 2, before anything is contacted."""

from __future__ import annotations

import pytest

from skewguard.cli import main


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["versions", "list", "extra"], "unexpected argument 'extra'"),
        (["versions", "retire"], "give APP@VERSION"),
        (["versions", "pin", "shop"], "give APP@VERSION"),
    ],
)
def test_argument_mistakes(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
