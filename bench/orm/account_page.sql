-- An account page: the account, its teller and branch, its latest history.
\set aid random(1, 100000 * :scale)
\set tid random(1, 10 * :scale)
\set bid random(1, :scale)
SELECT "pgbench_accounts"."aid", "pgbench_accounts"."bid", "pgbench_accounts"."abalance" FROM "pgbench_accounts" WHERE "pgbench_accounts"."aid" = :aid LIMIT 1;
SELECT "pgbench_tellers"."tid", "pgbench_tellers"."bid", "pgbench_tellers"."tbalance" FROM "pgbench_tellers" WHERE "pgbench_tellers"."tid" = :tid LIMIT 1;
SELECT "pgbench_branches"."bid", "pgbench_branches"."bbalance" FROM "pgbench_branches" WHERE "pgbench_branches"."bid" = :bid LIMIT 1;
SELECT "pgbench_history"."tid", "pgbench_history"."delta", "pgbench_history"."mtime" FROM "pgbench_history" WHERE "pgbench_history"."aid" = :aid ORDER BY "pgbench_history"."mtime" DESC LIMIT 5;
