-- A paginated listing with its count, and an existence check.
\set bid random(1, :scale)
\set page random(0, 50)
\set aid random(1, 100000 * :scale)
SELECT COUNT(*) AS "__count" FROM "pgbench_accounts" WHERE ("pgbench_accounts"."bid" = :bid AND "pgbench_accounts"."aid" BETWEEN :aid AND :aid + 200);
SELECT "pgbench_accounts"."aid", "pgbench_accounts"."abalance" FROM "pgbench_accounts" WHERE "pgbench_accounts"."bid" = :bid AND "pgbench_accounts"."aid" >= :aid ORDER BY "pgbench_accounts"."aid" ASC LIMIT 20 OFFSET :page;
SELECT 1 AS "a" FROM "pgbench_tellers" WHERE "pgbench_tellers"."bid" = :bid LIMIT 1;
