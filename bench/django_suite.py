"""Django's own test suite (``tests/runtests.py``) as ``bench.clients`` runs it.

Django's suite is not pytest: it runs under its own runner with a settings module
naming the databases. This writes that module (PostgreSQL through the endpoint
the run aims at, tagged by ``application_name`` when the target is) and reads
each test's outcome from the runner's ``-v 2`` report, so a Django run compares
with the direct one test by test like the pytest suites do.
"""

from __future__ import annotations

import re
from pathlib import Path

#: The settings module the runner is given (``--settings``), written into tests/.
SETTINGS = "skewguard_settings"

_SETTINGS_TEXT = '''"""Written by skewguard's bench.clients: Django's suite on PostgreSQL."""
import os

_tag = os.environ.get("SKEWGUARD_DJANGO_TAG")
DATABASES = {
    alias: {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ["SKEWGUARD_DJANGO_HOST"],
        "PORT": int(os.environ["SKEWGUARD_DJANGO_PORT"]),
        "USER": os.environ["SKEWGUARD_DJANGO_USER"],
        "NAME": os.environ["SKEWGUARD_DJANGO_DATABASE"] + "_" + alias,
        "OPTIONS": {"application_name": _tag} if _tag else {},
    }
    for alias in ("default", "other")
}
SECRET_KEY = "django_tests_secret_key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = False
'''

#: One result line of ``-v 2``: ``name (label) [subtest] ... outcome``; a test with a
#: docstring has its first line between the label and the dots.
_RESULT = re.compile(
    r"^(?P<name>\w+) \((?P<label>[\w.]+)\)(?P<sub> \[[^\n]*?\]| \([^\n]*?\))?\n?(?:[^\n]*?)"
    r" \.\.\. (?P<outcome>ok|FAIL|ERROR|skipped|expected failure|unexpected success)",
    re.MULTILINE,
)
#: The head of one failure's report at the end of the run.
_FAILURE_HEAD = re.compile(
    r"^={50,}\n(?:FAIL|ERROR): (?P<name>\w+) \((?P<label>[\w.]+)\)", re.MULTILINE
)
_OUTCOMES = {
    "ok": "passed",
    "FAIL": "failed",
    "ERROR": "error",
    "skipped": "skipped",
    "expected failure": "skipped",  # as pytest reports an xfail
    "unexpected success": "failed",
}
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def write_settings(tests: Path) -> None:
    """The settings module in the suite's tests/ (runtests.py imports it from there)."""
    (tests / f"{SETTINGS}.py").write_text(_SETTINGS_TEXT)


def parse(report: str) -> dict[str, str]:
    """Outcome per test label; a test whose subtests differ keeps its worst outcome."""
    outcomes: dict[str, str] = {}
    for match in _RESULT.finditer(report):
        outcome = _OUTCOMES[match["outcome"]]
        label = match["label"]
        if _RANK[outcome] >= _RANK.get(outcomes.get(label, "passed"), 0):
            outcomes[label] = outcome
    return outcomes


def refused(report: str, guard_words: str) -> set[str]:
    """Labels of tests whose failure report carries skewguard's own error."""
    heads = list(_FAILURE_HEAD.finditer(report))
    found = set()
    for index, head in enumerate(heads):
        end = heads[index + 1].start() if index + 1 < len(heads) else len(report)
        if guard_words in report[head.end() : end]:
            found.add(head["label"])
    return found
