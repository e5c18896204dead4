-- Notifications (issue 14): a transactional outbox. A `succeeded` ledger record of a notification
-- event (credential.expiring, credential.expired, drift.unknown_credential,
-- credential.revocation_unverified, leak.revoked, offboarding.done) inserts its outbox row IN THE
-- SAME STATEMENT as the record (PgLedgerSink's batch): the event is committed with what caused it.

-- One row per event record. `event_id` is the event's stable id (from the record's seq and hash):
-- every delivery attempt of the event carries it (header Keygate-Event-Id). The delivery worker
-- fans an event out to the webhook targets the policy lists when it first sees it (fanned_out_at).
CREATE TABLE notification_events (
  seq           bigint      PRIMARY KEY REFERENCES ledger_records (seq),
  event_id      text        NOT NULL UNIQUE,
  event         text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  fanned_out_at timestamptz
);
CREATE INDEX notification_events_new ON notification_events (seq) WHERE fanned_out_at IS NULL;

-- One row per (event, webhook target): pending until a 2xx answer (delivered) or until it is given
-- up (failed). Times are the gateway's lifecycle clock. last_error never carries a secret.
CREATE TABLE notification_deliveries (
  id              bigserial   PRIMARY KEY,
  seq             bigint      NOT NULL REFERENCES notification_events (seq),
  target          text        NOT NULL,
  url             text        NOT NULL,
  status          text        NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        integer     NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL,
  next_attempt_at timestamptz NOT NULL,
  last_attempt_at timestamptz,
  last_status     integer,
  last_error      text,
  delivered_at    timestamptz,
  UNIQUE (seq, target)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at, id)
  WHERE status = 'pending';
CREATE INDEX notification_deliveries_status ON notification_deliveries (status, id);

-- The expiry notices written: one credential.expiring record per (credential, threshold), ever.
-- A credential first seen past several thresholds gets one record (the nearest threshold), and
-- a row for each threshold it covers (the same seq).
CREATE TABLE expiry_notices (
  vendor            text    NOT NULL,
  scope             text    NOT NULL,
  credential_id     text    NOT NULL,
  threshold_seconds integer NOT NULL,
  seq               bigint  NOT NULL REFERENCES ledger_records (seq),
  PRIMARY KEY (vendor, scope, credential_id, threshold_seconds)
);
