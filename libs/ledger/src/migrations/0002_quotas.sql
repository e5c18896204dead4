-- 0002: quotas counted in the database, race-free across instances. An allowed issuance reserves
-- its place (under the owning team's and the subject's advisory transaction locks, where it was
-- counted) until its outcome is recorded; the last hour's successes are counted from the ledger.

CREATE TABLE quota_reservations (
  -- Keygate's request id of the issuance: its outcome record ends the reservation.
  request_id  text        PRIMARY KEY,
  team        text        NOT NULL,
  subject     text        NOT NULL,
  reserved_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX quota_reservations_team ON quota_reservations (team, reserved_at);
CREATE INDEX quota_reservations_subject ON quota_reservations (subject, reserved_at);

-- The last hour's issuances (events that hand out a secret) per owning team and per subject.
CREATE INDEX ledger_records_issued_team
  ON ledger_records ((coalesce(target ->> 'owner_team', actor ->> 'team')), time)
  WHERE phase = 'succeeded'
    AND event IN ('qwiet.token.issue', 'octane.api_access.create', 'octane.api_access.regenerate');
CREATE INDEX ledger_records_issued_subject
  ON ledger_records ((actor ->> 'subject'), time)
  WHERE phase = 'succeeded'
    AND event IN ('qwiet.token.issue', 'octane.api_access.create', 'octane.api_access.regenerate');
