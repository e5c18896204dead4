import { AuditEntry, AuditUnavailableError, chainLine, headMac } from '@app/audit';
import { Database, PgLedgerSink, verifyLedger } from '@app/ledger';
import { asServer, useDatabase } from '../support/db';

const KEY = 'test-audit-hmac-key-long-enough-0123456789';

const entry = (n: number, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  request_id: `req-${n}`,
  event: 'qwiet.token.issue',
  phase: 'attempt',
  actor: { subject: 'alice', team: 'payments' },
  target: { vendor: 'qwiet', org_id: 'org-1', label: `ci-${n}` },
  ...extra,
});

/** Runs SQL as the server's superuser on the maintenance database. */

describe('PgLedgerSink (a real PostgreSQL)', () => {
  const holder = useDatabase();
  const open: { close(): Promise<void> }[] = [];
  const connect = async () => {
    const database = await Database.connect({ url: holder.url, applicationName: 'sink-test' });
    open.push(database);
    return database;
  };
  const sinkOn = async (database: Database) => {
    const sink = await PgLedgerSink.open({ database, hmacKey: KEY });
    open.unshift(sink);
    return sink;
  };
  afterAll(async () => {
    for (const o of open) await o.close();
  });

  it('chains records exactly as chainLine writes them, with their fields in columns, and a MACed head', async () => {
    const database = await connect();
    const sink = await sinkOn(database);
    expect(sink.health()).toMatchObject({ ok: true, seq: 0 });
    const [a] = await sink.append([entry(1)]);
    const [b, c] = await sink.append([
      entry(2, { caller_request_id: 'theirs-2', fingerprint: 'hmac-sha256:ab' }),
      entry(3, { phase: 'denied', note: 'no' }),
    ]);
    expect([a.seq, b.seq, c.seq]).toEqual([1, 2, 3]);
    expect(b.prev_hash).toBe(a.hash);

    const { rows } = await database.query(
      `SELECT seq, prev_hash, hash, time, request_id, caller_request_id, event, phase, actor,
              target, fingerprint, note, line FROM ledger_records ORDER BY seq`,
    );
    expect(rows).toHaveLength(3);
    for (const [i, r] of [a, b, c].entries()) {
      const { seq, prev_hash, time, hash, ...fields } = r;
      const { line } = chainLine(seq, prev_hash, time, fields);
      expect(rows[i].line).toBe(line.trimEnd());
      expect(rows[i].hash).toBe(hash);
      expect(Number(rows[i].seq)).toBe(seq);
      expect((rows[i].time as Date).toISOString()).toBe(time);
      expect(rows[i].actor).toEqual(r.actor);
      expect(rows[i].target).toEqual(r.target);
    }
    expect(rows[1]).toMatchObject({
      caller_request_id: 'theirs-2',
      fingerprint: 'hmac-sha256:ab',
      phase: 'attempt',
    });
    expect(rows[2]).toMatchObject({ phase: 'denied', note: 'no' });

    const head = (await database.query('SELECT seq, hash, mac FROM ledger_head')).rows[0];
    expect({ seq: Number(head.seq), hash: head.hash }).toEqual({ seq: 3, hash: c.hash });
    expect(head.mac).toBe(headMac(KEY, 3, c.hash));
    expect(await verifyLedger(database, { key: KEY })).toMatchObject({
      ok: true,
      records: 3,
      head: 'matches',
    });
    // A sink opened later continues the same chain.
    const again = await sinkOn(database);
    expect(again.lastSeq).toBe(3);
    const [d] = await again.append([entry(4)]);
    expect(d).toMatchObject({ seq: 4, prev_hash: c.hash });
  });

  it('group commit: appends of one event-loop turn, and those arriving while a batch is in flight, share one transaction', async () => {
    const database = await connect();
    const sink = await sinkOn(database);
    const before = sink.batches;
    const from = sink.lastSeq;
    const first = Array.from({ length: 20 }, (_, i) => sink.append([entry(100 + i)]));
    await Promise.resolve();
    const records = (await Promise.all(first)).flat();
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => from + 1 + i));
    expect(sink.batches - before).toBe(1);
    // The database's own account: the rows of one transaction carry one xmin.
    const { rows } = await database.query(
      'SELECT count(DISTINCT xmin::text)::int AS transactions FROM ledger_records WHERE seq > $1',
      [from],
    );
    expect(rows[0].transactions).toBe(1);

    // While one batch is in flight, later appends queue and go in the next one together.
    const start = sink.batches;
    const inFlight = sink.append([entry(200)]);
    await new Promise((resolve) => setImmediate(resolve)); // the first batch has left
    const queued = Array.from({ length: 10 }, (_, i) => sink.append([entry(201 + i)]));
    await Promise.all([inFlight, ...queued]);
    expect(sink.batches - start).toBe(2);
  });

  it('two sinks on one database appending concurrently make one chain, with no gap or fork', async () => {
    const [dbA, dbB] = [await connect(), await connect()];
    const [a, b] = [await sinkOn(dbA), await sinkOn(dbB)];
    const start = (await verifyLedger(dbA, { key: KEY })).records;
    const writes: Promise<unknown>[] = [];
    for (let round = 0; round < 40; round++) {
      writes.push(a.append([entry(1000 + round), entry(2000 + round)]));
      writes.push(b.append([entry(3000 + round)]));
      if (round % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const all = (await Promise.all(writes)).flat() as { seq: number }[];
    const seqs = all.map((r) => r.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 120 }, (_, i) => start + 1 + i));
    expect(a.conflicts + b.conflicts).toBeGreaterThan(0);
    const result = await verifyLedger(dbA, { key: KEY });
    expect(result).toMatchObject({ ok: true, records: start + 120, head: 'matches' });
  });

  it('inventory: an issuance creates a row in the outcome’s transaction; regeneration, revocation and compensation change it', async () => {
    const database = await connect();
    const sink = await sinkOn(database);
    const [issued] = await sink.append([
      {
        request_id: 'inv-1',
        event: 'octane.api_access.create',
        phase: 'succeeded',
        actor: { subject: 'bob', team: 'platform' },
        target: {
          vendor: 'octane',
          shared_space_id: '1001',
          credential_id: '77',
          client_id: 'ci_77',
          name: 'ci key',
          role_ids: ['r1', 'r2'],
          owner_team: 'payments',
          expires_at: '2031-01-01T00:00:00.000Z',
        },
        fingerprint: 'hmac-sha256:01',
      },
      {
        request_id: 'inv-2',
        event: 'qwiet.token.issue',
        phase: 'succeeded',
        actor: { subject: 'alice', team: 'payments' },
        target: {
          vendor: 'qwiet',
          org_id: 'org-9',
          credential_id: 'AbC-1',
          label: 'deploy',
          token_type: 'ci',
        },
        fingerprint: 'hmac-sha256:02',
      },
    ]);
    const row = async (vendor: string, scope: string, id: string) =>
      (
        await database.query(
          'SELECT * FROM credentials WHERE vendor = $1 AND scope = $2 AND credential_id = $3',
          [vendor, scope, id],
        )
      ).rows[0];
    expect(await row('octane', '1001', '77')).toMatchObject({
      client_id: 'ci_77',
      name: 'ci key',
      role_ids: ['r1', 'r2'],
      owner_team: 'payments',
      subject: 'bob',
      status: 'active',
      fingerprint: 'hmac-sha256:01',
      issued_seq: String(issued.seq),
    });
    expect((await row('octane', '1001', '77')).expires_at.toISOString()).toBe(
      '2031-01-01T00:00:00.000Z',
    );
    expect(await row('qwiet', 'org-9', 'abc-1')).toMatchObject({
      owner_team: 'payments',
      name: 'deploy',
      token_type: 'ci',
      status: 'active',
    });

    const [regenerated] = await sink.append([
      {
        request_id: 'inv-3',
        event: 'octane.api_access.regenerate',
        phase: 'succeeded',
        actor: { subject: 'bob', team: 'platform' },
        target: { vendor: 'octane', shared_space_id: '1001', credential_id: '77' },
        fingerprint: 'hmac-sha256:03',
      },
    ]);
    expect(await row('octane', '1001', '77')).toMatchObject({
      fingerprint: 'hmac-sha256:03',
      updated_seq: String(regenerated.seq),
    });
    const [revoked] = await sink.append([
      {
        request_id: 'inv-4',
        event: 'qwiet.token.revoke',
        phase: 'succeeded',
        actor: { subject: 'carol', team: 'payments' },
        target: { vendor: 'qwiet', org_id: 'org-9', credential_id: 'abc-1' },
      },
    ]);
    expect(await row('qwiet', 'org-9', 'abc-1')).toMatchObject({
      status: 'revoked',
      revoked_by: 'carol',
      updated_seq: String(revoked.seq),
    });
    expect((await row('qwiet', 'org-9', 'abc-1')).revoked_at.toISOString()).toBe(revoked.time);
    await sink.append([
      {
        request_id: 'inv-5',
        event: 'octane.api_access.create',
        phase: 'compensated',
        actor: { subject: 'bob', team: 'platform' },
        target: { vendor: 'octane', shared_space_id: '1001', credential_id: '88' },
        note: 'issued but never recorded: revoked',
      },
    ]);
    expect(await row('octane', '1001', '88')).toMatchObject({ status: 'compensated' });
    // Attempts, denials and failures leave the inventory alone.
    await sink.append([entry(9, { target: { vendor: 'qwiet', org_id: 'o', credential_id: 'x' } })]);
    expect(await row('qwiet', 'o', 'x')).toBeUndefined();
  });

  it('a status record that finds the credential already in that status notifies nothing: two passes that both saw it expire give one notice', async () => {
    const database = await connect();
    const sink = await sinkOn(database);
    const target = { vendor: 'qwiet' as const, org_id: 'org-n', credential_id: 'exp-1' };
    await sink.append([
      {
        request_id: 'n-1',
        event: 'qwiet.token.issue',
        phase: 'succeeded',
        actor: { subject: 'alice', team: 'payments' },
        target: { ...target, label: 'ci' },
      },
    ]);
    const expired = (request_id: string, note: string): AuditEntry => ({
      request_id,
      event: 'credential.expired',
      phase: 'succeeded',
      actor: { subject: 'keygate', team: 'keygate' },
      target: { ...target, owner_team: 'payments' },
      note,
    });
    // The expiry scan, then a drift pass that read the inventory before the scan wrote (another
    // instance): both records stay in the ledger, one notice is queued.
    const [first] = await sink.append([expired('scan-1', 'expired at 2030-01-01T00:00:00.000Z')]);
    const [second] = await sink.append([expired('pass-1', 'expired at the vendor')]);
    const notices = async (seqs: number[]) =>
      (
        await database.query<{ seq: string }>(
          'SELECT seq FROM notification_events WHERE seq = ANY($1::bigint[]) ORDER BY seq',
          [seqs],
        )
      ).rows.map((r) => Number(r.seq));
    expect(await notices([first.seq, second.seq])).toEqual([first.seq]);
    const { rows } = await database.query(
      'SELECT status, status_seq FROM credentials WHERE credential_id = $1',
      ['exp-1'],
    );
    expect(rows).toEqual([{ status: 'expired', status_seq: String(first.seq) }]);
    // A row from before status_seq (NULL) that is already expired: no news either.
    await database.query('UPDATE credentials SET status_seq = NULL WHERE credential_id = $1', [
      'exp-1',
    ]);
    const [third] = await sink.append([expired('pass-2', 'expired at the vendor')]);
    expect(await notices([third.seq])).toEqual([]);
    // Both records in one batch (one instance's group commit): the first is the news.
    await sink.append([
      {
        request_id: 'n-3',
        event: 'qwiet.token.issue',
        phase: 'succeeded',
        actor: { subject: 'alice', team: 'payments' },
        target: { ...target, credential_id: 'exp-2', label: 'ci' },
      },
    ]);
    const both = await sink.append([
      {
        ...expired('scan-3', 'expired at 2030-01-01T00:00:00.000Z'),
        target: { ...target, credential_id: 'exp-2', owner_team: 'payments' },
      },
      {
        ...expired('pass-3', 'expired at the vendor'),
        target: { ...target, credential_id: 'exp-2', owner_team: 'payments' },
      },
    ]);
    expect(await notices(both.map((r) => r.seq))).toEqual([both[0].seq]);
    // A credential the inventory does not hold (issued before Keygate, revoked through it) is
    // notified as before.
    const [unheld] = await sink.append([
      {
        request_id: 'n-2',
        event: 'credential.revocation_unverified',
        phase: 'succeeded',
        actor: { subject: 'keygate', team: 'keygate' },
        target: { vendor: 'qwiet', org_id: 'org-n', credential_id: 'not-held' },
      },
    ]);
    expect(await notices([unheld.seq])).toEqual([unheld.seq]);
  });

  it('fails closed on a database that refuses (read-only, unreachable), names the store, and recovers by itself', async () => {
    const database = await connect();
    const sink = await sinkOn(database);
    await sink.append([entry(1)]);
    const name = holder.db.name;
    const kick = `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND application_name = 'sink-test'`;

    // Read-only: every new session of this database refuses writes.
    await asServer(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
    await asServer(kick);
    await expect(sink.append([entry(2)])).rejects.toBeInstanceOf(AuditUnavailableError);
    const down = sink.health();
    expect(down.ok).toBe(false);
    expect(down.store).toMatch(/^PostgreSQL postgres:\/\//);
    expect(down.error).toBeDefined();
    await expect(sink.append([entry(2)])).rejects.toThrow(/read-only/);

    // Unreachable: the database refuses connections.
    await asServer(`ALTER DATABASE ${name} RESET default_transaction_read_only`);
    await asServer(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await asServer(kick);
    await expect(sink.append([entry(3)])).rejects.toThrow(
      /audit ledger PostgreSQL postgres:\/\/.* cannot be written/,
    );
    expect(sink.health().ok).toBe(false);

    // Back: the next append goes through, on the same chain.
    await asServer(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    const before = sink.lastSeq;
    const [r] = await sink.append([entry(4)]);
    expect(sink.health().ok).toBe(true);
    expect(r.seq).toBeGreaterThan(before);
    const check = await connect();
    expect(await verifyLedger(check, { key: KEY })).toMatchObject({ ok: true, head: 'matches' });
  });
});
