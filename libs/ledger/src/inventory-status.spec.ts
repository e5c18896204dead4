import type { AuditEntry } from '@app/audit';
import { Client } from 'pg';
import { useDatabase } from '../../../test/support/db';
import { Database } from './database';
import { PgLedgerSink } from './pg-ledger-sink';

const KEY = 'inventory-status-spec-key-long-enough-0123456789';
const ORG = '2c0b6f7e-1d5a-4c1f-9a36-8f0f5b1e7d42';
const TOKEN = '8d4c1a2e-9b7f-4e3a-8c6d-5f1e2a3b4c5d';

const record = (event: AuditEntry['event'], phase: AuditEntry['phase']): AuditEntry => ({
  request_id: `req-${event}`,
  event,
  phase,
  actor: { subject: 'alice', team: 'payments' },
  target: { vendor: 'qwiet', org_id: ORG, credential_id: TOKEN, label: 'ci' },
});

/** The lifecycle events move a credential's status in the same statement as their record. */
describe('inventory status from lifecycle records', () => {
  const db = useDatabase();
  let database: Database;
  let sink: PgLedgerSink;

  beforeAll(async () => {
    database = await Database.connect({ url: db.url });
    sink = await PgLedgerSink.open({ database, hmacKey: KEY });
  });
  afterAll(async () => {
    await sink.close();
    await database.close();
  });

  const row = async () => {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{
        status: string;
        revoked_at: Date | null;
        verified_at: Date | null;
        last_checked_at: Date | null;
      }>('SELECT status, revoked_at, verified_at, last_checked_at FROM credentials');
      return rows;
    } finally {
      await client.end();
    }
  };

  it('follows issue, revoke, unverified, verified, and a revocation outside Keygate', async () => {
    await sink.append([record('qwiet.token.issue', 'succeeded')]);
    expect((await row())[0].status).toBe('active');

    await sink.append([record('qwiet.token.revoke', 'succeeded')]);
    await sink.append([record('credential.revocation_unverified', 'succeeded')]);
    let [r] = await row();
    expect(r.status).toBe('revoke_unverified');
    expect(r.verified_at).toBeNull();
    expect(r.last_checked_at).not.toBeNull();

    await sink.append([record('credential.revocation_verified', 'succeeded')]);
    [r] = await row();
    expect(r.status).toBe('revoked');
    expect(r.verified_at).not.toBeNull();

    // A failed verification record changes nothing: only `succeeded` records move the status.
    await sink.append([record('credential.revocation_unverified', 'failed')]);
    expect((await row())[0].status).toBe('revoked');
  });

  it('marks a credential gone outside Keygate revoked_outside, with when it was found', async () => {
    const other = { ...record('qwiet.token.issue', 'succeeded') };
    other.target = { ...other.target, credential_id: '11111111-2222-4333-8444-555555555555' };
    await sink.append([other]);
    await sink.append([
      {
        ...record('drift.revoked_outside', 'succeeded'),
        target: other.target,
      },
    ]);
    const rows = await row();
    const outside = rows.find((x) => x.status === 'revoked_outside');
    expect(outside?.revoked_at).not.toBeNull();
  });
});
