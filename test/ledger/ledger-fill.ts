import { randomUUID } from 'node:crypto';
import { AuditEntry, AuditRecord, chainLine, GENESIS_HASH } from '@app/audit';
import { appendChainedBatch, Database } from '@app/ledger';

/** A record as the gateway writes them (an issuance's attempt or outcome), about 600 bytes. */
function syntheticEntry(n: number): AuditEntry {
  const request_id = `req-${Math.floor(n / 2)}-${randomUUID()}`;
  const outcome = n % 2 === 1;
  return {
    request_id,
    event: 'qwiet.token.issue',
    phase: outcome ? 'succeeded' : 'attempt',
    actor: {
      subject: `ci-bot-${n % 97}`,
      team: n % 3 ? 'payments' : 'platform',
      ip: '10.1.2.3',
      // Now and then a JSON escape and a character beyond ASCII, as real user agents have.
      ...(n % 50 === 7 && { user_agent: 'runner "v2.3" \\ für CI\ttab' }),
    },
    target: {
      vendor: 'qwiet',
      org_id: '2c0b6f7e-1d5a-4c1f-9a36-8f0f5b1e7d42',
      ...(outcome && { credential_id: randomUUID() }),
      label: `ci-build-${n}`,
      role_ids: ['66ad5168-41be-4b6c-9ac5-a30b02229c35'],
      token_type: 'access',
      lifetime_requested: 3600,
      lifetime_effective: 3600,
    },
    decision: { allowed: true, violations: [], warnings: [], policy_revision: 'sha256:5f1c0de2a9' },
    ...(outcome && {
      vendor: { status: 200, latency_ms: 12, correlation_id: randomUUID() },
      fingerprint: `hmac-sha256:${'ab'.repeat(32)}`,
    }),
  };
}

/**
 * Appends `count` chained records to a ledger quickly (batches of `batch` records, each one
 * statement: the sink's own batch, head and inventory included), after its current head.
 */
export async function fillLedger(
  database: Database,
  count: number,
  key: string,
  batch = 5_000,
): Promise<{ seq: number; hash: string }> {
  const client = await database.pool.connect();
  try {
    const row = (
      await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM ledger_head')
    ).rows[0];
    let head = row ? { seq: Number(row.seq), hash: row.hash } : undefined;
    const base = Date.parse('2025-01-01T00:00:00Z');
    for (let done = 0; done < count;) {
      const records: AuditRecord[] = [];
      const lines: string[] = [];
      let seq = head?.seq ?? 0;
      let prev = head?.hash ?? GENESIS_HASH;
      for (let i = 0; i < batch && done < count; i++, done++) {
        const entry = syntheticEntry(seq + 1);
        const time = new Date(base + (seq + 1) * 1000).toISOString();
        const { line, hash } = chainLine(seq + 1, prev, time, entry);
        seq++;
        records.push({ seq, prev_hash: prev, time, ...entry, hash });
        lines.push(line.slice(0, -1));
        prev = hash;
      }
      if (!(await appendChainedBatch(client, key, head, records, lines)))
        throw new Error('the ledger head moved while it was being filled');
      head = { seq, hash: prev };
    }
    return head ?? { seq: 0, hash: GENESIS_HASH };
  } finally {
    client.release();
  }
}
