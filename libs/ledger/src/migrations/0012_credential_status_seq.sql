-- The ledger record that moved each credential into its current status (NULL on rows written
-- before this column). A status record that finds the credential already in that status moves
-- nothing, and its notification is not queued: the drift pass and the expiry scan (or two
-- instances) that both saw a credential expire give one notice, while both records stay.
ALTER TABLE credentials ADD COLUMN status_seq bigint;
