-- A transfer: the ORM's transaction around an update, a read back and an insert.
\set aid random(1, 100000 * :scale)
\set tid random(1, 10 * :scale)
\set bid random(1, :scale)
\set delta random(-5000, 5000)
BEGIN;
SELECT "pgbench_accounts"."abalance" FROM "pgbench_accounts" WHERE "pgbench_accounts"."aid" = :aid FOR UPDATE;
UPDATE "pgbench_accounts" SET "abalance" = "pgbench_accounts"."abalance" + :delta WHERE "pgbench_accounts"."aid" = :aid;
INSERT INTO "pgbench_history" ("tid", "bid", "aid", "delta", "mtime") VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
UPDATE "pgbench_tellers" SET "tbalance" = "pgbench_tellers"."tbalance" + :delta WHERE "pgbench_tellers"."tid" = :tid;
COMMIT;
