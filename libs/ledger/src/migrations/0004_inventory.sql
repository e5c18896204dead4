-- 0004: the inventory API (GET /v1/credentials), offboarding and the members' vendor lists.
-- GET /v1/credentials answers newest first in keyset pages ordered by
-- (created_at, vendor, scope, credential_id) descending: one index for everyone's view, one for a
-- team's (members see only their team's), one for a subject's.
CREATE INDEX credentials_created ON credentials (created_at, vendor, scope, credential_id);
CREATE INDEX credentials_team_created
  ON credentials (owner_team, created_at, vendor, scope, credential_id);
CREATE INDEX credentials_subject_created
  ON credentials (subject, created_at, vendor, scope, credential_id);

-- A member's Qwiet token list or Octane api_accesses list shows only the credentials their team
-- owns in that org or shared space: the ids, read from the index alone.
CREATE INDEX credentials_team_scope ON credentials (owner_team, vendor, scope, credential_id);

-- A credential's audit history (GET /v1/credentials/{vendor}/{scope}/{id}) uses
-- ledger_records_credential (0001); a leaked secret's credential is found by
-- credentials_fingerprint (0001); offboarding by credentials_subject (0003) or credentials_owner (0001).
