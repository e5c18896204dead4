-- 0005 (issue 14): Idempotency-Key on creates and regenerations, and the revocations still to be
-- verified at the vendor.

-- One row per Idempotency-Key of a caller: claimed (INSERT ... ON CONFLICT DO NOTHING) before the
-- vendor is called, so two requests with one key, on any instance, issue at most one credential;
-- completed with the first outcome, which a retry within 24 h gets again. Never a secret.
CREATE TABLE idempotency_keys (
  subject        text        NOT NULL,
  idem_key       text        NOT NULL CHECK (idem_key ~ '^[\x20-\x7e]{1,255}$'),
  -- The route: the audit event and the org or shared space (and key id) it addresses.
  route          text        NOT NULL,
  -- SHA-256 of the request (route parameters and body, keys sorted): the same key with another
  -- request is refused.
  request_hash   text        NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
  -- Keygate's id of the request that claimed the key (its ledger records).
  request_id     text        NOT NULL,
  state          text        NOT NULL CHECK (state IN ('in_progress', 'completed', 'refused')),
  -- completed: the vendor's status and the credential id; refused: the error's status, code and
  -- message (what the retry answers).
  outcome        jsonb       CHECK (outcome IS NULL OR jsonb_typeof(outcome) = 'object'),
  -- On the gateway's lifecycle clock: the key is honoured until expires_at.
  created_at     timestamptz NOT NULL,
  expires_at     timestamptz NOT NULL,
  PRIMARY KEY (subject, idem_key)
);

CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- A revocation the vendor reported done but that could not be verified (the credential still
-- works, or the vendor could not be asked): checked again at next_at, with backoff, by one
-- instance at a time (SELECT ... FOR UPDATE SKIP LOCKED). The row goes when it is verified, or
-- when the credential is no longer revoke_unverified in the inventory.
CREATE TABLE revocation_checks (
  vendor         text        NOT NULL CHECK (vendor IN ('qwiet', 'octane')),
  scope          text        NOT NULL,
  credential_id  text        NOT NULL,
  -- The revocation's request (its ledger records).
  request_id     text        NOT NULL,
  attempts       integer     NOT NULL DEFAULT 1 CHECK (attempts >= 1),
  -- On the gateway's lifecycle clock.
  first_at       timestamptz NOT NULL,
  next_at        timestamptz NOT NULL,
  last_error     text,
  PRIMARY KEY (vendor, scope, credential_id)
);

CREATE INDEX revocation_checks_due ON revocation_checks (next_at);
