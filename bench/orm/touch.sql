-- Small writes outside an explicit transaction: a branch total, a conditional update.
\set bid random(1, :scale)
\set tid random(1, 10 * :scale)
\set delta random(-100, 100)
UPDATE "pgbench_branches" SET "bbalance" = "pgbench_branches"."bbalance" + :delta WHERE "pgbench_branches"."bid" = :bid;
UPDATE "pgbench_tellers" SET "tbalance" = "pgbench_tellers"."tbalance" - :delta WHERE "pgbench_tellers"."tid" = :tid AND "pgbench_tellers"."bid" = :bid;
SELECT "pgbench_branches"."bbalance" FROM "pgbench_branches" WHERE "pgbench_branches"."bid" = :bid;
INSERT INTO "pgbench_branches" ("bid", "bbalance") VALUES (:bid, 0) ON CONFLICT ("bid") DO NOTHING;
