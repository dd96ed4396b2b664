"""What a CHECK expression asks of the session evaluating it: a probe in another session
answers for a version only where it asks nothing, or only the role and the probe runs as
the version's (rules.same_everywhere)."""

from __future__ import annotations

import pytest

from skewguard.rules.same_everywhere import Asks, asks

SAME = [
    "qty > 0",
    "qty > 0 AND qty < 10",
    "status IN ('a', 'b')",
    "body NOT IN ('x')",
    "qty BETWEEN 1 AND 5",
    "length(body) < 100",
    "lower(body) = body",
    "pg_catalog.btrim(body) <> ''",
    "body ~ '^x'",
    "body LIKE 'a%'",
    "body SIMILAR TO 'a%'",
    "body IS NOT NULL",
    "body IS DISTINCT FROM 'x'",
    "(qty)::numeric > 0",
    "COALESCE(body, '') <> ''",
    "NULLIF(body, '') IS NULL",
    "CASE WHEN qty > 0 THEN true ELSE false END",
    "body = ANY (ARRAY['a', 'b'])",
]
ASKS_THE_ROLE = [
    "body <> 'b' OR current_user = 'postgres'",
    "body <> 'b' OR CURRENT_ROLE = 'postgres'",
    "body <> 'b' OR pg_has_role('pg_read_server_files', 'member')",
    "body <> 'b' OR has_database_privilege(current_database(), 'CREATE')",
    "body <> 'b' OR pg_catalog.has_table_privilege('t', 'SELECT')",
    "body = ANY (ARRAY[current_user])",
]
ASKS_THE_SESSION = [
    "body <> 'b' OR session_user = 'postgres'",
    "current_user = 'x' OR current_setting('application_name') = 'x'",
    "body <> 'b' OR current_setting('application_name') NOT LIKE 'shop@%'",
    "d > now()",
    "d > 'today'::date",
    "d > CURRENT_DATE",
    "body <> 'b' OR public.f(body)",
    "body <> 'b' OR myschema.lower(body) = ''",
    "body <> (SELECT 'b')",
    "body OPERATOR(public.=) 'b'",
    "qty::money > 0",
    "body::regclass IS NOT NULL",
    "body <> $1",
    "not an expression (",
    "1); DROP TABLE t; SELECT (1",
]


@pytest.mark.parametrize("expression", SAME)
def test_an_expression_of_the_column_constants_and_plain_builtins_asks_nothing(
    expression: str,
) -> None:
    assert asks(expression) is Asks.NOTHING


@pytest.mark.parametrize("expression", ASKS_THE_ROLE)
def test_an_expression_asking_the_current_role_or_its_privileges_asks_the_role(
    expression: str,
) -> None:
    assert asks(expression) is Asks.ROLE


@pytest.mark.parametrize("expression", ASKS_THE_SESSION)
def test_an_expression_that_may_ask_the_session_or_run_code_asks_the_session(
    expression: str,
) -> None:
    assert asks(expression) is Asks.SESSION
