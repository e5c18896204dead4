-- The credential lifecycle (issue 14): revocations verified at the vendor, credentials gone or
-- expired outside Keygate, and the last time the vendor was asked about each credential.
ALTER TABLE credentials DROP CONSTRAINT credentials_status_check;
ALTER TABLE credentials ADD CONSTRAINT credentials_status_check CHECK (status IN
  ('active', 'revoked', 'revoke_unverified', 'revoked_outside', 'expired', 'compensated'));

-- When a revocation was last confirmed at the vendor (NULL: never, or not since the last change).
ALTER TABLE credentials ADD COLUMN verified_at timestamptz;
-- When a reconciliation pass or a verification last saw the credential at the vendor.
ALTER TABLE credentials ADD COLUMN last_checked_at timestamptz;

CREATE INDEX credentials_status ON credentials (status, vendor, scope);
CREATE INDEX credentials_subject ON credentials (subject, status);
