import { CI_ROLE_ID } from '@app/upstream-sim';
import type { Response } from 'supertest';
import { ledgerRecords } from '../support/db';
import { until } from '../support/until';
import { StartedGateway, startGateway, useStack } from '../support/gateway';

const STRONG = '9011@83sd!f1042ds+f19fg86M';

/** The answer had this status (its body shown when it did not). */
const status =
  (code: number) =>
  (res: Response): Response => {
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: code });
    return res;
  };

describe('gateway: Idempotency-Key on creates and regenerations', () => {
  // The lifecycle clock is the simulator's: the 24 h of a key pass when the test moves it.
  const stack = useStack({}, {}, { clock: 'simulator' });
  const org = () => stack.s.options.qwietOrgs[0].id;
  const otherOrg = () => stack.s.options.qwietOrgs[1].id;
  const space = () => `/octane/api/shared_spaces/${stack.s.options.octaneSpaces[0].id}`;
  const bearer = async (sub = 'alice') => ({
    Authorization: `Bearer ${await stack.g.token({ sub })}`,
  });
  const token = (label: string, extra: object = {}) => ({
    label,
    role_id: CI_ROLE_ID,
    token_type: 'access',
    valid_for_seconds: 3600,
    ...extra,
  });
  const issue = async (
    key: string | undefined,
    body: object,
    options: { g?: StartedGateway; sub?: string; orgId?: string } = {},
  ) => {
    const req = (options.g ?? stack.g)
      .http()
      .post(`/qwiet/api/v4/orgs/${options.orgId ?? org()}/tokens`)
      .set(await bearer(options.sub));
    if (key !== undefined) req.set('Idempotency-Key', key);
    return req.send(body);
  };
  const tokensLabelled = async (label: string) =>
    (await stack.s.admin.state()).qwiet.tokens.filter((t) => t.label === label);
  const creates = async () => (await stack.s.admin.state()).requests['qwiet.tokens.create'] ?? 0;

  /** Qwiet answers the next token create with `code` (without issuing it). */
  const nextCreateAnswers = (code: number) =>
    stack.s.admin.fault({ op: 'qwiet.tokens.create', kind: 'status', status: code, times: 1 });
  /** The ledger's settlement of the request that issued `label`, once lost answers wrote it. */
  const settlementOf = (label: string) =>
    until(async () =>
      (await ledgerRecords(stack.g.db.url)).find(
        (r) => r.target.label === label && /^lost answer:/.test(r.note ?? ''),
      ),
    );

  /** Puts a key back in progress, as a process that stopped mid-request leaves it. */
  const leaveInProgress = async (key: string, url = stack.g.db.url) => {
    const { Client } = await import('pg');
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const res = await client.query(
        `UPDATE idempotency_keys SET state = 'in_progress', outcome = NULL
         WHERE idem_key = $1 AND subject = 'alice'`,
        [key],
      );
      expect(res.rowCount).toBe(1);
    } finally {
      await client.end();
    }
  };

  it('answers a retry of a completed create 409 IDEMPOTENT_REPLAY with the credential id, without a second token or the secret', async () => {
    const first = await issue('retry-1', token('idem-a')).then(status(200));
    const id = first.body.response.id as string;
    expect(first.body.response.value).toEqual(expect.any(String));
    const again = await issue('retry-1', token('idem-a')).then(status(409));
    expect(again.body).toMatchObject({
      ok: false,
      code: 'IDEMPOTENT_REPLAY',
      credential_id: id,
      secret_shown_once: true,
      idempotent_replay: true,
    });
    expect(again.body.message).toMatch(/shown once/);
    expect(JSON.stringify(again.body)).not.toContain(first.body.response.value);
    expect(await tokensLabelled('idem-a')).toHaveLength(1);
    // The secret is nowhere in what the key keeps.
    const { Client } = await import('pg');
    const client = new Client({ connectionString: stack.g.db.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT * FROM idempotency_keys');
      expect(JSON.stringify(rows)).not.toContain(first.body.response.value);
    } finally {
      await client.end();
    }
  });

  it('refuses the same key with another body (422 IDEMPOTENCY_KEY_REUSED) and keeps keys per caller', async () => {
    await issue('reuse-1', token('idem-b')).then(status(200));
    const other = await issue('reuse-1', token('idem-b', { valid_for_seconds: 60 })).then(
      status(422),
    );
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // Another route with the key: refused too.
    const elsewhere = await stack.g
      .http()
      .post(`${space()}/api_accesses`)
      .set(await bearer())
      .set('Idempotency-Key', 'reuse-1')
      .send({ data: [{ name: 'idem-b', client_secret: STRONG }] })
      .expect(422);
    expect(elsewhere.body.error_code).toBe('IDEMPOTENCY_KEY_REUSED');
    // Bob's key of the same name is his own: his request is his, and he cannot read alice's outcome.
    const bob = await issue('reuse-1', token('idem-b'), { sub: 'bob' }).then(status(200));
    expect(bob.body.response.value).toEqual(expect.any(String));
    expect(await tokensLabelled('idem-b')).toHaveLength(2);
  });

  it('binds the key to the team an admin issues for (X-Keygate-Team) too', async () => {
    const admin = { Authorization: `Bearer ${await stack.g.token({ roles: ['keygate:admin'] })}` };
    const asAdmin = (team?: string) => {
      const req = stack.g
        .http()
        .post(`/qwiet/api/v4/orgs/${org()}/tokens`)
        .set(admin)
        .set('Idempotency-Key', 'for-team');
      if (team) req.set('X-Keygate-Team', team);
      return req.send(token('idem-team'));
    };
    // platform does not use this org: refused.
    await asAdmin('platform').expect(403);
    // Not a retry of that request: another team named.
    const other = await asAdmin('payments').expect(422);
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('answers a denied first attempt with the same error again, without deciding twice', async () => {
    const denied = await issue('denied-1', token('idem-c'), { orgId: otherOrg() }).then(
      status(403),
    );
    expect(denied.body.code).toBe('POLICY_VIOLATION');
    const count = (await ledgerRecords(stack.g.db.url)).length;
    const again = await issue('denied-1', token('idem-c'), { orgId: otherOrg() }).then(status(403));
    expect(again.body).toMatchObject({
      code: 'POLICY_VIOLATION',
      message: denied.body.message,
      idempotent_replay: true,
    });
    expect((await ledgerRecords(stack.g.db.url)).length).toBe(count);
  });

  it('runs a retry again when the first attempt failed before the vendor acted (the vendor refused it)', async () => {
    await nextCreateAnswers(400);
    await issue('vendor-400', token('idem-d')).then(status(400));
    const before = await creates();
    const retried = await issue('vendor-400', token('idem-d')).then(status(200));
    expect(retried.body.response.value).toEqual(expect.any(String));
    expect(await creates()).toBe(before + 1);
    expect(await tokensLabelled('idem-d')).toHaveLength(1);
  });

  describe('a first request the vendor may have acted on (a 500)', () => {
    it('answers the same failure again while the vendor may still act, and does not call it twice', async () => {
      // Lost answers wait out a 10-minute window before "nothing found" proves "nothing issued".
      const g = await startGateway(
        stack.s,
        { LOST_ANSWER_WINDOW_MS: '600000' },
        {
          clock: 'simulator',
        },
      );
      try {
        await nextCreateAnswers(500);
        const failed = await issue('vendor-500', token('idem-e'), { g }).then(status(500));
        const before = await creates();
        const again = await issue('vendor-500', token('idem-e'), { g }).then(status(500));
        expect(again.body).toEqual(failed.body);
        expect(await creates()).toBe(before);
        // Its claim left in progress (the process stopped before settling it) and stale: still
        // no second call while the vendor may act, only "in progress".
        await leaveInProgress('vendor-500', g.db.url);
        await stack.s.admin.advanceClock(16 * 60);
        const busy = await issue('vendor-500', token('idem-e'), { g }).then(status(409));
        expect(busy.body.code).toBe('IDEMPOTENCY_IN_PROGRESS');
        expect(await creates()).toBe(before);
      } finally {
        await g.close();
      }
    });

    it('runs a retry again once the ledger proves nothing was issued', async () => {
      await nextCreateAnswers(500);
      await issue('vendor-500-settled', token('idem-e2')).then(status(500));
      expect((await settlementOf('idem-e2')).phase).toBe('failed');
      const before = await creates();
      const retried = await issue('vendor-500-settled', token('idem-e2')).then(status(200));
      expect(retried.body.response.value).toEqual(expect.any(String));
      expect(await creates()).toBe(before + 1);
      expect(await tokensLabelled('idem-e2')).toHaveLength(1);
      await issue('vendor-500-settled', token('idem-e2')).then(status(409));
    });

    it('runs a retry again once Keygate found and revoked what the first request issued', async () => {
      // The vendor issues the token, then answers 500: the lost answer finds it by its marker.
      await stack.s.admin.fault({ op: 'qwiet.tokens.create', kind: 'lost_answer', times: 1 });
      await issue('vendor-acted', token('idem-e3')).then(status(500));
      expect((await settlementOf('idem-e3')).phase).toBe('compensated');
      const [unseen] = await tokensLabelled('idem-e3');
      expect(unseen.revoked_at).toEqual(expect.any(String));
      const retried = await issue('vendor-acted', token('idem-e3')).then(status(200));
      const live = (await tokensLabelled('idem-e3')).filter((t) => !t.revoked_at);
      expect(live.map((t) => t.id)).toEqual([retried.body.response.id]);
    });
  });

  it('honours a key for 24 hours on the clock, then takes it as new', async () => {
    await issue('day-1', token('idem-f')).then(status(200));
    await stack.s.admin.advanceClock(23 * 3600);
    await issue('day-1', token('idem-f')).then(status(409));
    await stack.s.admin.advanceClock(3600 + 1);
    await issue('day-1', token('idem-f')).then(status(200));
    expect(await tokensLabelled('idem-f')).toHaveLength(2);
  });

  it('checks the key: 1-255 printable characters', async () => {
    const long = await issue('k'.repeat(256), token('idem-g')).then(status(400));
    expect(long.body.code).toBe('VALIDATION_FAILED');
    expect(long.body.validation_errors.join()).toMatch(/Idempotency-Key/);
    await issue('', token('idem-g')).then(status(400));
    await issue('k'.repeat(255), token('idem-g')).then(status(200));
    await issue('with spaces and ~!@#', token('idem-g')).then(status(200));
    expect(await tokensLabelled('idem-g')).toHaveLength(2);
  });

  it('makes Octane creates and regenerations idempotent (the regenerated secret is not shown again)', async () => {
    const create = async (key: string) =>
      stack.g
        .http()
        .post(`${space()}/api_accesses`)
        .set(await bearer())
        .set('Idempotency-Key', key)
        .send({ data: [{ name: 'idem-h', client_secret: STRONG }] });
    const created = await create('octane-create').then(status(201));
    const id = String(created.body.data[0].id);
    const again = await create('octane-create').then(status(409));
    expect(again.body).toMatchObject({ error_code: 'IDEMPOTENT_REPLAY', credential_id: id });
    const regenerate = async () =>
      stack.g
        .http()
        .put(`${space()}/api_accesses/${id}`)
        .set(await bearer())
        .set('Idempotency-Key', 'octane-regenerate')
        .send({ is_valid: true, client_secret: `${STRONG}x` });
    await regenerate().then(status(200));
    const replay = await regenerate().then(status(409));
    expect(replay.body).toMatchObject({ error_code: 'IDEMPOTENT_REPLAY', credential_id: id });
    const key = (await stack.s.admin.state()).octane.api_accesses.find((a) => a.id === id);
    expect(key?.regenerated_at).toHaveLength(1);
  });

  describe('a key its process left in progress (it stopped mid-request)', () => {
    /** The key's row put back in progress, as a process that stopped before settling it leaves it. */
    it('answers from the ledger once stale: issued -> IDEMPOTENT_REPLAY with the credential id', async () => {
      const first = await issue('left-issued', token('idem-left-a')).then(status(200));
      await leaveInProgress('left-issued');
      const busy = await issue('left-issued', token('idem-left-a')).then(status(409));
      expect(busy.body.code).toBe('IDEMPOTENCY_IN_PROGRESS');
      await stack.s.admin.advanceClock(16 * 60);
      const replayed = await issue('left-issued', token('idem-left-a')).then(status(409));
      expect(replayed.body).toMatchObject({
        code: 'IDEMPOTENT_REPLAY',
        credential_id: first.body.response.id,
      });
      expect(await tokensLabelled('idem-left-a')).toHaveLength(1);
    });

    it('runs a retry again once stale when the ledger shows nothing issued', async () => {
      await nextCreateAnswers(503);
      await issue('left-failed', token('idem-left-b')).then(status(503));
      expect((await settlementOf('idem-left-b')).phase).toBe('failed');
      await leaveInProgress('left-failed');
      await issue('left-failed', token('idem-left-b')).then(status(409));
      await stack.s.admin.advanceClock(16 * 60);
      const retried = await issue('left-failed', token('idem-left-b')).then(status(200));
      expect(retried.body.response.value).toEqual(expect.any(String));
      expect(await tokensLabelled('idem-left-b')).toHaveLength(1);
      await issue('left-failed', token('idem-left-b')).then(status(409));
    });
  });

  describe('two gateway instances on one database', () => {
    let second: StartedGateway;
    beforeAll(async () => {
      second = await startGateway(stack.s, {}, { clock: 'simulator' });
    });
    afterAll(() => second?.close());

    it('issue at most one credential for two concurrent requests with one key', async () => {
      const losers: string[] = [];
      for (let round = 0; round < 5; round++) {
        // The vendor is slow on the first create: the second request arrives while it is in flight.
        await stack.s.admin.fault({
          op: 'qwiet.tokens.create',
          kind: 'latency',
          latency_ms: 700,
          times: 1,
        });
        const label = `idem-race-${round}`;
        const [a, b] = await Promise.all([
          issue(`race-${round}`, token(label)),
          issue(`race-${round}`, token(label), { g: second }),
        ]);
        const statuses = [a.status, b.status].sort();
        expect(statuses).toEqual([200, 409]);
        const loser = a.status === 409 ? a : b;
        expect(['IDEMPOTENCY_IN_PROGRESS', 'IDEMPOTENT_REPLAY']).toContain(loser.body.code);
        losers.push(loser.body.code as string);
        expect(await tokensLabelled(label)).toHaveLength(1);
      }
      // The requests did overlap: the loser was told the first one was in flight.
      expect(losers).toContain('IDEMPOTENCY_IN_PROGRESS');
    });
  });
});
