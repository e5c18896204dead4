-- 0008: the ledger's checkpoints, kept in the database too. Each row is a point of the chain (seq,
-- hash) MAC'd with the checkpoint key, written by the gateway with its stdout "audit checkpoint"
-- line (at least every minute while the ledger moved, and at shutdown) and by
-- `keygate audit accept-loss --db`. The gateway's start-up check requires the ledger to still
-- contain the latest one: records cut from the end, the whole ledger emptied (TRUNCATE ... CASCADE
-- does not reach this table: nothing references the records from here) or the head rolled back
-- with the records after it are found before anything is written. A superuser who also rewinds
-- this table is caught only by the checkpoints outside the database (the stdout log).
CREATE TABLE ledger_checkpoints (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  seq        bigint      NOT NULL CHECK (seq >= 1),
  hash       text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  mac        text        NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER ledger_checkpoints_append_only
  BEFORE UPDATE OR DELETE ON ledger_checkpoints
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_checkpoints_no_truncate
  BEFORE TRUNCATE ON ledger_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
