-- A dashboard: aggregates and a join, as an ORM's annotate() writes them.
\set bid random(1, :scale)
\set aid random(1, 100000 * :scale)
SELECT "pgbench_tellers"."tid", "pgbench_tellers"."tbalance", "pgbench_branches"."bbalance" FROM "pgbench_tellers" INNER JOIN "pgbench_branches" ON ("pgbench_tellers"."bid" = "pgbench_branches"."bid") WHERE "pgbench_tellers"."bid" = :bid ORDER BY "pgbench_tellers"."tid";
SELECT SUM("pgbench_accounts"."abalance") AS "total", MAX("pgbench_accounts"."abalance") AS "top" FROM "pgbench_accounts" WHERE "pgbench_accounts"."aid" BETWEEN :aid AND :aid + 100;
SELECT "pgbench_history"."bid", COUNT("pgbench_history"."aid") AS "n" FROM "pgbench_history" WHERE "pgbench_history"."bid" = :bid GROUP BY "pgbench_history"."bid";
