"""SG118's picture of PostgreSQL's overload resolution (typeconv-func): which calls a set
of overloads leaves not unique (42725), as typeconv-func documents it; the ground truth
(round 15a) checks the numeric, smallint and string cases against PostgreSQL."""

from __future__ import annotations

import pytest

from skewguard.catalog import Function
from skewguard.rules.enums_functions import ambiguous


def _f(*args: str, defaults: int = 0, variadic: bool = False) -> Function:
    return Function("public", "f", args, "integer", n_defaults=defaults, variadic=variadic)


@pytest.mark.parametrize(
    ("overloads", "call", "expected"),
    [
        ([_f("numeric"), _f("bigint")], ["integer"], True),
        ([_f("numeric"), _f("double precision")], ["integer"], False),  # preferred type
        ([_f("integer"), _f("bigint")], ["smallint"], True),  # psycopg's small int parameter
        ([_f("integer"), _f("bigint")], ["integer"], False),  # exact
        ([_f("character varying"), _f("text")], ["unknown"], False),  # text is preferred
        ([_f("integer"), _f("text")], ["unknown"], False),  # the string category
        ([_f("integer"), _f("bigint")], ["unknown"], True),  # neither is a string
        ([_f("integer"), _f("integer", "integer", defaults=1)], ["integer"], True),
        ([_f("integer"), _f("integer", "integer")], ["integer"], False),  # arity
        ([_f("integer", "unknown"), _f("integer", "integer")], ["integer", "integer"], False),
    ],
)
def test_calls_left_not_unique(overloads: list[Function], call: list[str], expected: bool) -> None:
    assert ambiguous(overloads, call) is expected
