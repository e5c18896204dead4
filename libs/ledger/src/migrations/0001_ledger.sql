-- 0001: the ledger (hash-chained records and their MAC'd head) and the credential inventory.
-- The JSON line each record was written as stays the record (`line`: the bytes its hash covers);
-- the other columns are that line's fields, kept for indexed queries.

CREATE TABLE ledger_records (
  seq               bigint      PRIMARY KEY CHECK (seq >= 1),
  prev_hash         text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash              text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  time              timestamptz NOT NULL,
  request_id        text,
  caller_request_id text,
  event             text        NOT NULL CHECK (event <> ''),
  phase             text        NOT NULL
                    CHECK (phase IN ('attempt', 'denied', 'succeeded', 'failed', 'compensated')),
  -- {"subject", "team", "ip"?, "user_agent"?}
  actor             jsonb       NOT NULL CHECK (jsonb_typeof(actor) = 'object'),
  target            jsonb       CHECK (jsonb_typeof(target) = 'object'),
  decision          jsonb       CHECK (jsonb_typeof(decision) = 'object'),
  vendor            jsonb       CHECK (jsonb_typeof(vendor) = 'object'),
  fingerprint       text,
  note              text,
  line              text        NOT NULL,
  -- The record before this one, which must exist with exactly that hash: the database itself
  -- refuses a gap or a fork in the chain (the first record, seq 1, has none).
  prev_seq          bigint      GENERATED ALWAYS AS (CASE WHEN seq > 1 THEN seq - 1 END) STORED,
  CONSTRAINT ledger_records_seq_hash UNIQUE (seq, hash),
  CONSTRAINT ledger_records_chain FOREIGN KEY (prev_seq, prev_hash)
    REFERENCES ledger_records (seq, hash)
);

-- The queries of GET /v1/audit, newest first by seq (keyset pages), and the look-ups.
CREATE INDEX ledger_records_time ON ledger_records (time);
CREATE INDEX ledger_records_team ON ledger_records ((actor ->> 'team'), seq);
CREATE INDEX ledger_records_subject ON ledger_records ((actor ->> 'subject'), seq);
CREATE INDEX ledger_records_event ON ledger_records (event, seq);
CREATE INDEX ledger_records_credential ON ledger_records ((target ->> 'credential_id'), seq)
  WHERE target ? 'credential_id';
CREATE INDEX ledger_records_client ON ledger_records ((target ->> 'client_id'), seq)
  WHERE target ? 'client_id';
CREATE INDEX ledger_records_fingerprint ON ledger_records (fingerprint)
  WHERE fingerprint IS NOT NULL;
CREATE INDEX ledger_records_request ON ledger_records (request_id)
  WHERE request_id IS NOT NULL;
CREATE INDEX ledger_records_caller_request ON ledger_records (caller_request_id)
  WHERE caller_request_id IS NOT NULL;
-- Dangling attempts (crash recovery, lost answers) without reading history.
CREATE INDEX ledger_records_attempts ON ledger_records (seq) WHERE phase = 'attempt';

-- Records are never changed or deleted, through the database either.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger records are append-only: % refused on %', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER ledger_records_append_only
  BEFORE UPDATE OR DELETE ON ledger_records
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_records_no_truncate
  BEFORE TRUNCATE ON ledger_records
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- The chain's head: one row, moved forward by compare-and-swap with each batch of records. `mac`
-- is the head's MAC under a key derived from AUDIT_HMAC_KEY for that purpose alone.
CREATE TABLE ledger_head (
  id         boolean     PRIMARY KEY DEFAULT true CHECK (id),
  seq        bigint      NOT NULL,
  hash       text        NOT NULL,
  mac        text        NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ledger_head_record FOREIGN KEY (seq, hash) REFERENCES ledger_records (seq, hash)
);

CREATE TRIGGER ledger_head_kept
  BEFORE DELETE ON ledger_head
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_head_no_truncate
  BEFORE TRUNCATE ON ledger_head
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- The inventory: one row per credential Keygate issued, written in the transaction of the outcome
-- record; ownership, quotas and expiry notices read it.
CREATE TABLE credentials (
  vendor        text        NOT NULL CHECK (vendor IN ('qwiet', 'octane')),
  -- The Qwiet org id or the Octane shared space id.
  scope         text        NOT NULL,
  credential_id text        NOT NULL,
  -- Octane: the key's client_id.
  client_id     text,
  -- Qwiet: the token's label; Octane: the key's name.
  name          text,
  role_ids      text[]      NOT NULL DEFAULT '{}',
  token_type    text,
  owner_team    text        NOT NULL,
  subject       text        NOT NULL,
  created_at    timestamptz NOT NULL,
  expires_at    timestamptz,
  status        text        NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'revoked', 'expired', 'compensated')),
  revoked_at    timestamptz,
  revoked_by    text,
  -- HMAC fingerprint of the secret last issued (never the secret).
  fingerprint   text,
  -- The outcome record that created the row, and the last one that changed it.
  issued_seq    bigint      REFERENCES ledger_records (seq),
  updated_seq   bigint      REFERENCES ledger_records (seq),
  PRIMARY KEY (vendor, scope, credential_id),
  CHECK (status <> 'revoked' OR revoked_at IS NOT NULL)
);

CREATE INDEX credentials_owner ON credentials (owner_team, status, created_at);
CREATE INDEX credentials_expiry ON credentials (expires_at) WHERE status = 'active';
CREATE INDEX credentials_fingerprint ON credentials (fingerprint) WHERE fingerprint IS NOT NULL;
CREATE INDEX credentials_client ON credentials (vendor, client_id) WHERE client_id IS NOT NULL;
