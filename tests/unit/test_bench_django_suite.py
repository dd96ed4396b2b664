"""bench.django_suite's reading of Django's runner report (``runtests.py -v 2``)."""

from __future__ import annotations

from bench.django_suite import parse, refused

REPORT = """\
test_plain (basic.tests.ModelTest.test_plain) ... ok
test_documented (basic.tests.ModelTest.test_documented)
A docstring's first line. ... FAIL
test_gone (schema.tests.SchemaTests.test_gone) ... ERROR
test_later (queries.tests.Q.test_later) ... skipped 'Database has feature(s) x'
test_known (queries.tests.Q.test_known) ... expected failure
test_sub (backends.tests.S.test_sub) [<object>] (i=1) ... ok
test_sub (backends.tests.S.test_sub) [<object>] (i=2) ... FAIL

======================================================================
FAIL: test_documented (basic.tests.ModelTest.test_documented)
----------------------------------------------------------------------
AssertionError: 1 != 2

======================================================================
ERROR: test_gone (schema.tests.SchemaTests.test_gone)
----------------------------------------------------------------------
psycopg.errors.ObjectInUse: skewguard: dropping column "x" would break app@1
"""


def test_each_outcome_is_read_per_label() -> None:
    assert parse(REPORT) == {
        "basic.tests.ModelTest.test_plain": "passed",
        "basic.tests.ModelTest.test_documented": "failed",
        "schema.tests.SchemaTests.test_gone": "error",
        "queries.tests.Q.test_later": "skipped",
        "queries.tests.Q.test_known": "skipped",
        "backends.tests.S.test_sub": "failed",  # the worst of its subtests
    }


def test_only_a_failure_on_skewguards_error_is_a_refusal() -> None:
    assert refused(REPORT, "skewguard: ") == {"schema.tests.SchemaTests.test_gone"}
