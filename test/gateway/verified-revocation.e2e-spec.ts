import type { AuditRecord } from '@app/audit';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { Client } from 'pg';
import { AuditService } from '../../apps/gateway/src/audit/audit.service';
import { RevocationVerifier } from '../../apps/gateway/src/issuance/verification';
import { ledgerRecords } from '../support/db';
import { startGateway, useStack } from '../support/gateway';
import { until } from '../support/until';

const STRONG = '9011@83sd!f1042ds+f19fg86M';

interface InventoryRow {
  status: string;
  verified_at: Date | null;
  last_checked_at: Date | null;
}

describe('gateway: verified revocation (the vendor is asked whether the credential still works)', () => {
  // The gateway's lifecycle clock is the simulator's: retries become due when the test moves it.
  // The test runs the due checks itself (retryDue); the instance's own 15 s round may take one
  // first, so the tests look at what was recorded, not at who ran it.
  const stack = useStack({}, {}, { clock: 'simulator' });
  const org = () => stack.s.options.qwietOrgs[0].id;
  const space = () => stack.s.options.octaneSpaces[0].id;
  const bearer = async () => ({ Authorization: `Bearer ${await stack.g.token()}` });
  const verifier = () => stack.g.app.get(RevocationVerifier);

  const sql = async <R>(text: string, values: unknown[] = []): Promise<R[]> => {
    const client = new Client({ connectionString: stack.g.db.url });
    await client.connect();
    try {
      return (await client.query(text, values)).rows as R[];
    } finally {
      await client.end();
    }
  };
  const inventory = async (vendor: string, scope: string, id: string) =>
    (
      await sql<InventoryRow>(
        'SELECT status, verified_at, last_checked_at FROM credentials WHERE vendor = $1 AND scope = $2 AND credential_id = $3',
        [vendor, scope, id.toLowerCase()],
      )
    )[0];
  const pending = async (id: string) =>
    (
      await sql<{ attempts: number; next_at: Date }>(
        'SELECT attempts, next_at FROM revocation_checks WHERE credential_id = $1',
        [id.toLowerCase()],
      )
    )[0];
  const lifecycle = async (id: string): Promise<AuditRecord[]> =>
    (await ledgerRecords(stack.g.db.url)).filter(
      (r) => r.event.startsWith('credential.revocation_') && r.target.credential_id === id,
    );

  const issueToken = async (label: string): Promise<string> => {
    const res = await stack.g
      .http()
      .post(`/qwiet/api/v4/orgs/${org()}/tokens`)
      .set(await bearer())
      .send({ label, role_id: CI_ROLE_ID, token_type: 'access', valid_for_seconds: 86_400 })
      .expect(200);
    return res.body.response.id as string;
  };
  const revokeToken = async (id: string) =>
    stack.g
      .http()
      .delete(`/qwiet/api/v4/orgs/${org()}/tokens/${id}`)
      .set(await bearer())
      .expect(200);
  const createKey = async (name: string): Promise<string> => {
    const res = await stack.g
      .http()
      .post(`/octane/api/shared_spaces/${space()}/api_accesses`)
      .set(await bearer())
      .send({ data: [{ name, client_secret: STRONG }] })
      .expect(201);
    return String(res.body.data[0].id);
  };
  const revokeKey = async (id: string) =>
    stack.g
      .http()
      .put(`/octane/api/shared_spaces/${space()}/api_accesses/${id}`)
      .set(await bearer())
      .send({ is_valid: false })
      .expect(200);
  const listed = async (id: string) =>
    (await stack.s.admin.state()).qwiet.tokens.some((t) => t.id === id && t.revoked_at === null);
  /** The revocations' outcome records of a credential (the vendor said done), oldest first. */
  const revocations = async (id: string): Promise<AuditRecord[]> =>
    (await ledgerRecords(stack.g.db.url)).filter(
      (r) =>
        (r.event === 'qwiet.token.revoke' || r.event === 'octane.api_access.revoke') &&
        r.phase === 'succeeded' &&
        r.target.credential_id === id,
    );
  /** The notifications (outbox rows) raised by records that name the credential. */
  const notifications = async (id: string) =>
    (
      await sql<{ event: string }>(
        `SELECT n.event FROM notification_events n JOIN ledger_records r ON r.seq = n.seq
         WHERE r.target->>'credential_id' = $1 ORDER BY n.seq`,
        [id],
      )
    ).map((n) => n.event);

  it('verifies a Qwiet revocation (the token is no longer listed) before answering', async () => {
    const id = await issueToken('verified-q');
    const res = await revokeToken(id);
    expect(res.headers['x-keygate-revocation']).toBe('verified');
    const [record, ...more] = await lifecycle(id);
    expect(more).toEqual([]);
    expect(record).toMatchObject({
      event: 'credential.revocation_verified',
      phase: 'succeeded',
      actor: { subject: 'alice', team: 'payments' },
      target: { vendor: 'qwiet', org_id: org(), credential_id: id },
    });
    expect(record.note).toMatch(/no longer lists/);
    const row = await inventory('qwiet', org(), id);
    expect(row.status).toBe('revoked');
    expect(row.verified_at).not.toBeNull();
    expect(await pending(id)).toBeUndefined();
  });

  it('verifies an Octane revocation (is_valid: false at Octane)', async () => {
    const id = await createKey('verified-o');
    const res = await revokeKey(id);
    expect(res.headers['x-keygate-revocation']).toBe('verified');
    expect((await lifecycle(id)).map((r) => r.event)).toEqual(['credential.revocation_verified']);
    expect((await inventory('octane', space(), id)).status).toBe('revoked');
  });

  it('catches a Qwiet "revoked" that leaves the token working, retries with backoff on the clock, and verifies once Qwiet really revokes', async () => {
    const id = await issueToken('ignored-q');
    // Ignored twice: the revocation, and the retry's revocation sent again.
    await stack.s.admin.fault({ op: 'qwiet.tokens.delete', kind: 'revoke_ignored', times: 2 });
    const res = await revokeToken(id);
    expect(res.body).toEqual({ ok: true });
    expect(res.headers['x-keygate-revocation']).toBe('unverified');
    expect(await listed(id)).toBe(true);

    const [unverified, ...more] = await lifecycle(id);
    expect(more).toEqual([]);
    expect(unverified).toMatchObject({
      event: 'credential.revocation_unverified',
      phase: 'succeeded',
      target: { vendor: 'qwiet', org_id: org(), credential_id: id },
    });
    expect(unverified.note).toMatch(/still lists the token/);
    expect((await inventory('qwiet', org(), id)).status).toBe('revoke_unverified');
    expect((await pending(id)).attempts).toBe(1);

    // Not due yet: nothing is asked.
    const before = (await stack.s.admin.state()).requests['qwiet.tokens.list'] ?? 0;
    expect(await verifier().retryDue()).toBe(0);
    expect((await stack.s.admin.state()).requests['qwiet.tokens.list'] ?? 0).toBe(before);

    // Due after a minute: asked again, still working, revoked again (ignored again), asked again:
    // still working; recorded without a second notification.
    await stack.s.admin.advanceClock(61);
    await verifier().retryDue();
    expect((await lifecycle(id)).map((r) => r.event)).toEqual([
      'credential.revocation_unverified',
      'credential.revocation_still_unverified',
    ]);
    expect((await revocations(id)).map((r) => r.actor.subject)).toEqual(['alice', 'keygate']);
    expect(await notifications(id)).toEqual(['credential.revocation_unverified']);
    const second = await pending(id);
    expect(second.attempts).toBe(2);
    // Backoff: the next check two minutes after this one, not one.
    const wait = second.next_at.getTime() - stack.s.sim.clock.now();
    expect(wait).toBeGreaterThan(110_000);
    expect(wait).toBeLessThanOrEqual(120_000);
    const checked = await inventory('qwiet', org(), id);
    expect(checked.status).toBe('revoke_unverified');
    expect(checked.last_checked_at).not.toBeNull();
    await stack.s.admin.advanceClock(61);
    expect(await verifier().retryDue()).toBe(0);

    // Qwiet really revokes it; the next due check verifies it.
    expect(stack.s.sim.qwiet.delete(org(), id)).toBe(true);
    await stack.s.admin.advanceClock(60);
    await verifier().retryDue();
    const records = await lifecycle(id);
    expect(records.map((r) => r.event)).toEqual([
      'credential.revocation_unverified',
      'credential.revocation_still_unverified',
      'credential.revocation_verified',
    ]);
    expect(records[2].actor).toEqual({ subject: 'keygate', team: 'keygate' });
    // Found gone: not revoked a third time.
    expect((await revocations(id)).length).toBe(2);
    const row = await inventory('qwiet', org(), id);
    expect(row.status).toBe('revoked');
    expect(row.verified_at).not.toBeNull();
    expect(await pending(id)).toBeUndefined();
    expect(await notifications(id)).toEqual(['credential.revocation_unverified']);
  });

  it('re-sends an ignored Qwiet revocation when its retry is due (as keygate), and verifies it', async () => {
    const id = await issueToken('resent-q');
    await stack.s.admin.fault({ op: 'qwiet.tokens.delete', kind: 'revoke_ignored', times: 1 });
    const res = await revokeToken(id);
    expect(res.headers['x-keygate-revocation']).toBe('unverified');
    expect((await inventory('qwiet', org(), id)).status).toBe('revoke_unverified');

    await stack.s.admin.advanceClock(61);
    await verifier().retryDue();
    // Revoked again through the request path: decided, audited, and this time it works.
    expect(await listed(id)).toBe(false);
    const [first, again, ...more] = await revocations(id);
    expect(more).toEqual([]);
    expect(first.actor).toMatchObject({ subject: 'alice', team: 'payments' });
    expect(again).toMatchObject({
      event: 'qwiet.token.revoke',
      phase: 'succeeded',
      caller_request_id: first.request_id,
      actor: { subject: 'keygate', team: 'keygate' },
      target: { vendor: 'qwiet', org_id: org(), credential_id: id },
      decision: { allowed: true },
    });
    const records = await lifecycle(id);
    expect(records.map((r) => r.event)).toEqual([
      'credential.revocation_unverified',
      'credential.revocation_verified',
    ]);
    expect(records[1].actor).toEqual({ subject: 'keygate', team: 'keygate' });
    expect(records[1].note).toContain(`sent again as ${again.request_id}`);
    const row = await inventory('qwiet', org(), id);
    expect(row.status).toBe('revoked');
    expect(row.verified_at).not.toBeNull();
    expect(await pending(id)).toBeUndefined();
    expect(await notifications(id)).toEqual(['credential.revocation_unverified']);
  });

  it('re-sends an ignored Octane revocation when its retry is due (as keygate), and verifies it', async () => {
    const id = await createKey('resent-o');
    await stack.s.admin.fault({
      op: 'octane.api_accesses.update',
      kind: 'revoke_ignored',
      times: 1,
    });
    const res = await revokeKey(id);
    expect(res.headers['x-keygate-revocation']).toBe('unverified');

    await stack.s.admin.advanceClock(61);
    await verifier().retryDue();
    const state = await stack.s.admin.state();
    expect(state.octane.api_accesses.find((a) => a.id === id)?.is_valid).toBe(false);
    const [first, again, ...more] = await revocations(id);
    expect(more).toEqual([]);
    expect(again).toMatchObject({
      event: 'octane.api_access.revoke',
      caller_request_id: first.request_id,
      actor: { subject: 'keygate', team: 'keygate' },
    });
    expect((await lifecycle(id)).map((r) => r.event)).toEqual([
      'credential.revocation_unverified',
      'credential.revocation_verified',
    ]);
    expect((await inventory('octane', space(), id)).status).toBe('revoked');
    expect(await pending(id)).toBeUndefined();
  });

  it('two instances retrying at once: each due revocation is claimed by one and sent again once', async () => {
    const other = await startGateway(
      stack.s,
      { DATABASE_URL: stack.g.db.url },
      { clock: 'simulator' },
    );
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i += 1) ids.push(await issueToken(`claimed-${i}`));
      await stack.s.admin.fault({ op: 'qwiet.tokens.delete', kind: 'revoke_ignored', times: 4 });
      for (const id of ids) await revokeToken(id);
      await stack.s.admin.advanceClock(61);
      await Promise.all([verifier().retryDue(), other.app.get(RevocationVerifier).retryDue()]);
      for (const id of ids) {
        expect((await revocations(id)).map((r) => r.actor.subject)).toEqual(['alice', 'keygate']);
        expect((await lifecycle(id)).map((r) => r.event)).toEqual([
          'credential.revocation_unverified',
          'credential.revocation_verified',
        ]);
        expect(await pending(id)).toBeUndefined();
        expect(await listed(id)).toBe(false);
      }
    } finally {
      await other.close();
    }
  });

  it('catches an Octane key still valid after "revoked"; revoking it again through Keygate verifies it and ends the retries', async () => {
    const id = await createKey('ignored-o');
    await stack.s.admin.fault({
      op: 'octane.api_accesses.update',
      kind: 'revoke_ignored',
      times: 1,
    });
    const res = await revokeKey(id);
    expect(res.body.is_valid).toBe(false);
    expect(res.headers['x-keygate-revocation']).toBe('unverified');
    const state = await stack.s.admin.state();
    expect(state.octane.api_accesses.find((a) => a.id === id)?.is_valid).toBe(true);
    expect((await inventory('octane', space(), id)).status).toBe('revoke_unverified');

    const again = await revokeKey(id);
    expect(again.headers['x-keygate-revocation']).toBe('verified');
    expect((await inventory('octane', space(), id)).status).toBe('revoked');
    // The pending retry finds it verified and is dropped without asking Octane.
    await stack.s.admin.advanceClock(61);
    const gets = (await stack.s.admin.state()).requests['octane.api_accesses.get'] ?? 0;
    await verifier().retryDue();
    expect((await stack.s.admin.state()).requests['octane.api_accesses.get'] ?? 0).toBe(gets);
    expect(await pending(id)).toBeUndefined();
    expect((await lifecycle(id)).map((r) => r.event)).toEqual([
      'credential.revocation_unverified',
      'credential.revocation_verified',
    ]);
  });

  it('records a revocation it could not check as unverified, and verifies it when the vendor answers again', async () => {
    const id = await issueToken('unaskable');
    // The list after the revocation fails (a 500 is not retried).
    await stack.s.admin.fault({ op: 'qwiet.tokens.list', kind: 'status', status: 500, times: 1 });
    const res = await revokeToken(id);
    expect(res.headers['x-keygate-revocation']).toBe('unverified');
    const [unverified] = await lifecycle(id);
    expect(unverified.event).toBe('credential.revocation_unverified');
    expect(unverified.note).toMatch(/could not be asked/);
    await stack.s.admin.advanceClock(61);
    await verifier().retryDue();
    expect((await lifecycle(id)).map((r) => r.event)).toEqual([
      'credential.revocation_unverified',
      'credential.revocation_verified',
    ]);
    expect((await inventory('qwiet', org(), id)).status).toBe('revoked');
  });

  it('schedules a revocation whose first check never ran (the process stopped), and verifies it', async () => {
    const id = await issueToken('never-checked');
    // The revocation's outcome recorded, then the process "stopped" before checking it: revoked at
    // Qwiet and in the ledger, no check made.
    expect(stack.s.sim.qwiet.delete(org(), id)).toBe(true);
    await stack.g.app.get(AuditService).write([
      {
        request_id: 'revocation-before-a-crash',
        event: 'qwiet.token.revoke',
        phase: 'succeeded',
        actor: { subject: 'alice', team: 'payments' },
        target: { vendor: 'qwiet', org_id: org(), credential_id: id },
      },
    ]);
    const row = await inventory('qwiet', org(), id);
    expect(row.status).toBe('revoked');
    expect(row.verified_at).toBeNull();
    // Taken once its revocation is 5 minutes old on the clock (its first check would be over).
    await stack.s.admin.advanceClock(6 * 60);
    await verifier().retryDue();
    const [verified, ...more] = await lifecycle(id);
    expect(more).toEqual([]);
    expect(verified).toMatchObject({
      event: 'credential.revocation_verified',
      actor: { subject: 'keygate', team: 'keygate' },
    });
    expect(verified.note).toContain('revocation-before-a-crash');
    expect((await inventory('qwiet', org(), id)).verified_at).not.toBeNull();
    expect(await pending(id)).toBeUndefined();
  });

  describe('a vendor slow to answer the check', () => {
    // Vendor calls may take 10 s here, longer than the answer waits for the first check (2 s).
    const slow = useStack({ UPSTREAM_TIMEOUT_MS: '10000' }, {}, { clock: 'simulator' });

    it('answers pending after 2 s, and records the check when it ends', async () => {
      const org2 = slow.s.options.qwietOrgs[0].id;
      const auth = { Authorization: `Bearer ${await slow.g.token()}` };
      const issued = await slow.g
        .http()
        .post(`/qwiet/api/v4/orgs/${org2}/tokens`)
        .set(auth)
        .send({ label: 'slow-check', role_id: CI_ROLE_ID, token_type: 'access' })
        .expect(200);
      const id = issued.body.response.id as string;
      await slow.s.admin.fault({
        op: 'qwiet.tokens.list',
        kind: 'latency',
        latency_ms: 4_000,
        times: 1,
      });
      const started = Date.now();
      const res = await slow.g
        .http()
        .delete(`/qwiet/api/v4/orgs/${org2}/tokens/${id}`)
        .set(auth)
        .expect(200);
      expect(res.headers['x-keygate-revocation']).toBe('pending');
      // 2 s and the revoke itself; waiting for the check would take 4 s. A margin for a loaded machine.
      expect(Date.now() - started).toBeLessThan(3_500);
      const records = await until(async () => {
        const found = (await ledgerRecords(slow.g.db.url)).filter(
          (r) => r.event.startsWith('credential.revocation_') && r.target.credential_id === id,
        );
        return found.length > 0 ? found : undefined;
      });
      expect(records.map((r) => r.event)).toEqual(['credential.revocation_verified']);
    });
  });
});
