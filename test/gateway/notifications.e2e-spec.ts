import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { NOTIFICATION_EVENTS } from '@app/common';
import {
  scopeOnlyPolicy,
  StartedGateway,
  startGateway,
  StartedSimulator,
  startSimulator,
  useStack,
  writePolicy,
} from '../support/gateway';
import { PolicyStore } from '../../apps/gateway/src/policy/policy.store';
import { asDatabase } from '../support/db';
import { until } from '../support/until';

const SECRET = 'whsec-test-0123456789abcdef-not-a-real-one';
const DAY = 86_400;

/** One request the test receiver got, and whether its signature was right. */
interface Received {
  eventId: string;
  type: string;
  body: {
    id: string;
    type: string;
    data: { target?: { credential_id?: string } };
    ledger: { seq: number };
  };
  signatureOk: boolean;
  /** What the receiver answered. */
  status: number;
}

/**
 * A webhook receiver on 127.0.0.1 that checks each request's signature as a customer would:
 * `Keygate-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, t equal to
 * Keygate-Timestamp, constant-time comparison. While `down`, it answers 503.
 */
class Receiver {
  readonly got: Received[] = [];
  down = false;
  private server!: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const status = this.down ? 503 : 204;
        this.got.push({
          eventId: String(req.headers['keygate-event-id']),
          type: String(req.headers['keygate-event']),
          body: JSON.parse(raw),
          signatureOk: verify(req, raw),
          status,
        });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/keygate`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Requests about one credential. */
  about(credentialId: string): Received[] {
    return this.got.filter((r) => r.body.data.target?.credential_id === credentialId);
  }
}

function verify(req: IncomingMessage, raw: string): boolean {
  const header = String(req.headers['keygate-signature'] ?? '');
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match || match[1] !== req.headers['keygate-timestamp']) return false;
  const expected = createHmac('sha256', SECRET).update(`${match[1]}.${raw}`).digest();
  return timingSafeEqual(expected, Buffer.from(match[2], 'hex'));
}

function notifyPolicy(s: StartedSimulator, url: string): string {
  return scopeOnlyPolicy(
    s,
    [
      'notify:',
      '  expiry_thresholds: [7d, 1d]',
      '  webhooks:',
      `    - { name: receiver, url: "${url}", secret_env: WEBHOOK_SECRET_TEST }`,
    ].join('\n'),
  );
}

async function sql<T extends object>(g: StartedGateway, text: string, values: unknown[] = []) {
  const client = new Client({ connectionString: g.db.url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A gateway whose policy sends notices to `webhooks()` (the lines under notify.webhooks, worked
 * out when the stack starts), on a database of its own; nothing on a timer: each test runs
 * POST /v1/notifications/run after moving the clock.
 */
function webhookStack(webhooks: () => string[], env: NodeJS.ProcessEnv = {}) {
  return useStack(
    (s) => ({
      POLICY_FILE: writePolicy(
        scopeOnlyPolicy(s, ['notify:', '  webhooks:', ...webhooks()].join('\n')),
      ),
      WEBHOOK_SECRET_TEST: SECRET,
      NOTIFY_SCAN_INTERVAL: 'off',
      NOTIFY_DELIVERY_INTERVAL: 'off',
      RECONCILE_INTERVAL: 'off',
      ...env,
    }),
    {},
    { clock: 'simulator', database: 'own' },
  );
}

/** An admin's Authorization header on `g`. */
const adminOf = async (g: StartedGateway) => ({
  Authorization: `Bearer ${await g.token({ roles: ['keygate:admin'] })}`,
});

/**
 * As `admin`, issues a Qwiet token of `seconds` labelled `label`, then moves the simulator's clock
 * `advance` seconds on (past its expiry by default): the token's id.
 */
async function issueAndAge(
  at: { g: StartedGateway; s: StartedSimulator },
  admin: { Authorization: string },
  label: string,
  seconds = 60,
  advance = 120,
): Promise<string> {
  const res = await at.g
    .http()
    .post(`/qwiet/api/v4/orgs/${at.s.options.qwietOrgs[0].id}/tokens`)
    .set(admin)
    .send({ label, role_id: CI_ROLE_ID, token_type: 'access', valid_for_seconds: seconds })
    .expect(200);
  await at.s.admin.advanceClock(advance);
  return String(res.body.response.id);
}

/** POST /v1/notifications/run as `admin`: what the scan and the delivery round did. */
const runNotifications = async (g: StartedGateway, admin: { Authorization: string }) =>
  (await g.http().post('/v1/notifications/run').set(admin).expect(200)).body;

describe('notifications: expiry notices and webhook deliveries from the outbox', () => {
  const receiver = new Receiver();
  let hookUrl = '';
  beforeAll(async () => {
    hookUrl = await receiver.start();
  });
  afterAll(() => receiver.close());

  const env = (s: StartedSimulator) => ({
    POLICY_FILE: writePolicy(notifyPolicy(s, hookUrl)),
    WEBHOOK_SECRET_TEST: SECRET,
    // Driven by POST /v1/notifications/run after the clock is moved: nothing on a timer.
    NOTIFY_SCAN_INTERVAL: 'off',
    NOTIFY_DELIVERY_INTERVAL: 'off',
    RECONCILE_INTERVAL: 'off',
  });
  const stack = useStack(env, {}, { clock: 'simulator' });
  let admin: { Authorization: string };
  beforeAll(async () => {
    admin = { Authorization: `Bearer ${await stack.g.token({ roles: ['keygate:admin'] })}` };
  });

  const issue = async (validForSeconds: number, label = 'notify-test'): Promise<string> => {
    const orgId = stack.s.options.qwietOrgs[0].id;
    const res = await stack.g
      .http()
      .post(`/qwiet/api/v4/orgs/${orgId}/tokens`)
      .set(admin)
      .send({
        label,
        role_id: CI_ROLE_ID,
        token_type: 'access',
        valid_for_seconds: validForSeconds,
      })
      .expect(200);
    return String(res.body.response.id);
  };
  const run = async (g: StartedGateway = stack.g) =>
    (await g.http().post('/v1/notifications/run').set(admin).expect(200)).body;

  it('writes one notice at each threshold, then the expiry, each delivered once and signed', async () => {
    const id = await issue(10 * DAY);
    await run();
    expect(receiver.about(id)).toEqual([]);

    await stack.s.admin.advanceClock(3.5 * DAY); // 6.5 days left: within 7d
    const first = await run();
    expect(first.scan).toEqual({ expired: 0, expiring: 1 });
    expect(first.delivery).toMatchObject({ events: 1, created: 1, delivered: 1 });
    await run(); // nothing new: one notice per (credential, threshold), ever
    expect(receiver.about(id).map((r) => r.type)).toEqual(['credential.expiring']);

    await stack.s.admin.advanceClock(6 * DAY); // half a day left: within 1d
    await run();
    await run();
    await stack.s.admin.advanceClock(1 * DAY); // past its expiry
    await run();
    await run();

    const got = receiver.about(id);
    expect(got.map((r) => [r.type, r.body.data])).toEqual([
      [
        'credential.expiring',
        expect.objectContaining({ expiry: { threshold: '7d', threshold_seconds: 7 * DAY } }),
      ],
      [
        'credential.expiring',
        expect.objectContaining({ expiry: { threshold: '1d', threshold_seconds: DAY } }),
      ],
      [
        'credential.expired',
        expect.objectContaining({ actor: { subject: 'keygate', team: 'keygate' } }),
      ],
    ]);
    expect(got.every((r) => r.signatureOk && r.status === 204)).toBe(true);
    expect(new Set(got.map((r) => r.eventId)).size).toBe(3);
    for (const r of got) {
      expect(r.body.id).toBe(r.eventId);
      expect(r.eventId).toMatch(new RegExp(`^evt_${r.body.ledger.seq}_[0-9a-f]{16}$`));
    }
    // The inventory followed the credential.expired record.
    const [row] = await sql<{ status: string }>(
      stack.g,
      'SELECT status FROM credentials WHERE credential_id = $1',
      [id],
    );
    expect(row.status).toBe('expired');
  });

  it('notices an Octane key by its expiration as well: the nearest threshold first seen, then the next', async () => {
    const expiration = new Date(stack.s.sim.clock.now() + 3 * DAY * 1000)
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
    const res = await stack.g
      .http()
      .post('/octane/api/shared_spaces/1001/api_accesses')
      .set(admin)
      .send({
        data: [
          {
            name: 'expiringKey',
            client_secret: '9011@83sd!f1042ds+f19fg86M',
            expiration,
            workspace_roles: { data: [{ type: 'workspace_role', id: '1028' }] },
          },
        ],
      })
      .expect(201);
    const id = String(res.body.data[0].id);
    await run();
    await stack.s.admin.advanceClock(2.5 * DAY);
    await run();
    expect(receiver.about(id).map((r) => [r.type, r.body.data])).toEqual([
      [
        'credential.expiring',
        expect.objectContaining({
          target: expect.objectContaining({ vendor: 'octane', shared_space_id: '1001' }),
          expiry: { threshold: '7d', threshold_seconds: 7 * DAY },
        }),
      ],
      [
        'credential.expiring',
        expect.objectContaining({ expiry: { threshold: '1d', threshold_seconds: DAY } }),
      ],
    ]);
  });

  it('puts exactly the succeeded notification records in the outbox, in their own statement', async () => {
    const counts = await sql<{ records: number; outbox: number; strays: number }>(
      stack.g,
      `SELECT (SELECT count(*) FROM ledger_records
                WHERE phase = 'succeeded' AND event = ANY ($1))::int AS records,
              (SELECT count(*) FROM notification_events)::int AS outbox,
              (SELECT count(*) FROM notification_events e JOIN ledger_records r USING (seq)
                WHERE r.phase <> 'succeeded' OR r.event <> e.event
                   OR NOT (r.event = ANY ($1)))::int AS strays`,
      [NOTIFICATION_EVENTS],
    );
    expect(counts[0].records).toBeGreaterThan(0);
    expect(counts[0]).toEqual({ records: counts[0].records, outbox: counts[0].records, strays: 0 });
  });

  it('retries a receiver that is down for an hour with backoff, then delivers everything once, same ids', async () => {
    const ids = [await issue(3600, 'a'), await issue(3600, 'b'), await issue(3600, 'c')];
    receiver.down = true;
    await stack.s.admin.advanceClock(2 * 3600); // expired
    const first = await run();
    expect(first.scan).toMatchObject({ expired: 3 });
    expect(first.delivery).toMatchObject({ events: 3, attempted: 3, retrying: 3, delivered: 0 });

    const pending = await stack.g
      .http()
      .get('/v1/notifications?status=pending')
      .set(admin)
      .expect(200);
    const mine = (pending.body.deliveries as { credential?: { credential_id: string } }[]).filter(
      (d) => ids.includes(d.credential?.credential_id ?? ''),
    );
    expect(mine).toHaveLength(3);
    expect(mine[0]).toMatchObject({
      event: 'credential.expired',
      target: 'receiver',
      url: hookUrl,
      status: 'pending',
      attempts: 1,
      last_status: 503,
      last_error: 'HTTP 503',
    });

    // An hour down, the clock moved ten minutes at a time, a delivery round each time.
    for (let i = 0; i < 6; i++) {
      await stack.s.admin.advanceClock(600);
      await run();
    }
    const down = ids.map((id) => receiver.about(id));
    expect(down.every((attempts) => attempts.length >= 3)).toBe(true);

    receiver.down = false;
    await stack.s.admin.advanceClock(15 * 60); // past the longest backoff (10 min + 25%)
    const back = await run();
    expect(back.delivery).toMatchObject({ delivered: 3 });
    await stack.s.admin.advanceClock(15 * 60);
    await run();

    for (const id of ids) {
      const attempts = receiver.about(id);
      // Every attempt of the event carried its one id; it got through exactly once, at the end.
      expect(new Set(attempts.map((a) => a.eventId)).size).toBe(1);
      expect(attempts.filter((a) => a.status === 204)).toHaveLength(1);
      expect(attempts.at(-1)!.status).toBe(204);
      expect(attempts.every((a) => a.signatureOk)).toBe(true);
    }
    const delivered = await stack.g
      .http()
      .get('/v1/notifications?status=delivered&event=credential.expired&limit=500')
      .set(admin)
      .expect(200);
    for (const id of ids) {
      const d = (
        delivered.body.deliveries as {
          credential?: { credential_id: string };
          attempts: number;
          last_error: string | null;
          delivered_at: string;
        }[]
      ).find((x) => x.credential?.credential_id === id);
      expect(d).toMatchObject({ last_error: null, delivered_at: expect.any(String) });
      expect(d!.attempts).toBe(receiver.about(id).length);
    }
  });

  it('delivers each event once with two gateway instances running rounds at the same time', async () => {
    const g2 = await startGateway(stack.s, env(stack.s), { clock: 'simulator' });
    try {
      const ids: string[] = [];
      for (let round = 0; round < 3; round++) {
        for (let k = 0; k < 4; k++) ids.push(await issue(600, `two-${round}-${k}`));
        await stack.s.admin.advanceClock(1200);
        const reports = await Promise.all([run(stack.g), run(g2), run(stack.g), run(g2)]);
        // At most one instance scanned and one delivered at a time; the others found it taken or done.
        expect(reports.some((r) => r.scan.expired >= 4)).toBe(true);
      }
      for (const id of ids) {
        const got = receiver.about(id);
        expect(got).toHaveLength(1);
        expect(got[0]).toMatchObject({
          type: 'credential.expired',
          status: 204,
          signatureOk: true,
        });
      }
    } finally {
      await g2.close();
    }
  });

  it('pages the deliveries newest first; only admin, security and auditor read them, only admin runs', async () => {
    const page1 = await stack.g.http().get('/v1/notifications?limit=2').set(admin).expect(200);
    expect(page1.body.deliveries).toHaveLength(2);
    expect(page1.body.deliveries[0].id).toBeGreaterThan(page1.body.deliveries[1].id);
    const page2 = await stack.g
      .http()
      .get(`/v1/notifications?limit=2&before_id=${page1.body.next_before_id}`)
      .set(admin)
      .expect(200);
    expect(page2.body.deliveries[0].id).toBeLessThan(page1.body.deliveries[1].id);

    const as = async (roles?: string[]) => ({
      Authorization: `Bearer ${await stack.g.token({ roles })}`,
    });
    await stack.g
      .http()
      .get('/v1/notifications')
      .set(await as())
      .expect(403);
    await stack.g
      .http()
      .get('/v1/notifications')
      .set(await as(['keygate:auditor']))
      .expect(200);
    await stack.g
      .http()
      .get('/v1/notifications')
      .set(await as(['keygate:security']))
      .expect(200);
    await stack.g
      .http()
      .post('/v1/notifications/run')
      .set(await as(['keygate:auditor']))
      .expect(403);
    await stack.g.http().get('/v1/notifications?status=lost').set(admin).expect(400);
  });

  it('delivers what the other lifecycle parts record: drift found, revocation unverified, leak revoked, offboarding done', async () => {
    const orgId = stack.s.options.qwietOrgs[0].id;
    const start = receiver.got.length;
    const mentions = (type: string, text: string) =>
      receiver.got
        .slice(start)
        .some((r) => r.type === type && r.signatureOk && JSON.stringify(r.body).includes(text));
    // Drift: a key created at Octane behind Keygate's back, found by a pass.
    const unknown = await stack.s.admin.octaneKeyBehindKeygate({ name: 'behind_the_back' });
    await stack.g.http().post('/v1/reconcile').set(admin).expect(200);
    // A revocation the vendor answers as done while the token keeps working.
    const stubborn = await issue(30 * DAY, 'stubborn');
    await stack.s.admin.fault({ op: 'qwiet.tokens.delete', kind: 'revoke_ignored', times: 1 });
    await stack.g.http().delete(`/qwiet/api/v4/orgs/${orgId}/tokens/${stubborn}`).set(admin);
    // A leaked token value.
    const leakedRes = await stack.g
      .http()
      .post(`/qwiet/api/v4/orgs/${orgId}/tokens`)
      .set(admin)
      .send({ label: 'leaky', role_id: CI_ROLE_ID, token_type: 'access', valid_for_seconds: DAY })
      .expect(200);
    await stack.g
      .http()
      .post('/v1/leaks')
      .set(admin)
      .send({ secret: leakedRes.body.response.value })
      .expect(200);
    // Someone leaving: every active credential of theirs revoked.
    const leaver = { Authorization: `Bearer ${await stack.g.token({ sub: 'leaver' })}` };
    await stack.g
      .http()
      .post(`/qwiet/api/v4/orgs/${orgId}/tokens`)
      .set(leaver)
      .send({ label: 'leaver', role_id: CI_ROLE_ID, token_type: 'access', valid_for_seconds: DAY })
      .expect(200);
    await stack.g
      .http()
      .post('/v1/credentials/revoke')
      .set(admin)
      .send({ subject: 'leaver' })
      .expect(200);

    await until(async () => {
      await run();
      return mentions('drift.unknown_credential', unknown) &&
        mentions('credential.revocation_unverified', stubborn) &&
        mentions('leak.revoked', String(leakedRes.body.response.id)) &&
        mentions('offboarding.done', 'leaver')
        ? true
        : undefined;
    });
    // Each event once, under one id.
    const ids = receiver.got.slice(start).map((r) => r.eventId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('answers 503 AUDIT_UNAVAILABLE when the outbox cannot be read or written, and recovers', async () => {
    await asDatabase(stack.g.db.url, 'ALTER TABLE notification_deliveries RENAME TO nd_away');
    try {
      const list = await stack.g.http().get('/v1/notifications').set(admin).expect(503);
      expect(list.body).toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
      const run = await stack.g.http().post('/v1/notifications/run').set(admin).expect(503);
      expect(run.body).toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
      expect(JSON.stringify([list.body, run.body])).not.toMatch(/nd_away|notification_deliveries/);
    } finally {
      await asDatabase(stack.g.db.url, 'ALTER TABLE nd_away RENAME TO notification_deliveries');
    }
    await stack.g.http().get('/v1/notifications').set(admin).expect(200);
    await stack.g.http().post('/v1/notifications/run').set(admin).expect(200);
  });

  it('never logs the signing secret', () => {
    expect(stack.g.logs.text()).not.toContain(SECRET);
  });
});

describe('notifications: deliveries that cannot succeed are retried, then given up', () => {
  const receiver = new Receiver();
  let hookUrl = '';
  let hanging: Server;
  let hangingUrl = '';
  beforeAll(async () => {
    hookUrl = await receiver.start();
    // Takes the request and never answers.
    hanging = createServer(() => undefined);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/never`;
  });
  afterAll(async () => {
    hanging.closeAllConnections();
    await new Promise((resolve) => hanging.close(resolve));
    await receiver.close();
  });

  const stack = webhookStack(
    () => [
      `    - { name: unsigned, url: "${hookUrl}", secret_env: WEBHOOK_SECRET_ABSENT }`,
      `    - { name: hanging, url: "${hangingUrl}", secret_env: WEBHOOK_SECRET_TEST }`,
    ],
    { NOTIFY_TIMEOUT_MS: '300', NOTIFY_GIVE_UP_AFTER: '1h' },
  );

  it('names why (a secret not set, a timeout), never sends unsigned, and marks them failed after NOTIFY_GIVE_UP_AFTER', async () => {
    const admin = await adminOf(stack.g);
    await issueAndAge(stack, admin, 'doomed');
    const run = () => runNotifications(stack.g, admin);
    expect((await run()).delivery).toMatchObject({ events: 1, created: 2, retrying: 2 });

    const list = async (status: string) =>
      (
        await stack.g.http().get(`/v1/notifications?status=${status}`).set(admin).expect(200)
      ).body.deliveries.map((d: { target: string; last_error: string; attempts: number }) => [
        d.target,
        d.last_error,
        d.attempts,
      ]);
    expect((await list('pending')).sort()).toEqual([
      ['hanging', 'timed out after 300 ms', 1],
      ['unsigned', 'WEBHOOK_SECRET_ABSENT is not set', 1],
    ]);

    await stack.s.admin.advanceClock(2 * 3600);
    expect((await run()).delivery).toMatchObject({ attempted: 2, failed: 2 });
    expect(await list('pending')).toEqual([]);
    expect((await list('failed')).sort()).toEqual([
      ['hanging', 'timed out after 300 ms', 2],
      ['unsigned', 'WEBHOOK_SECRET_ABSENT is not set', 2],
    ]);
    await stack.s.admin.advanceClock(2 * 3600);
    expect((await run()).delivery).toMatchObject({ attempted: 0 });
    expect(receiver.got).toEqual([]);
  });
});

describe('notifications: on schedule', () => {
  const receiver = new Receiver();
  let hookUrl = '';
  beforeAll(async () => {
    hookUrl = await receiver.start();
  });
  afterAll(() => receiver.close());

  const stack = useStack(
    (s) => ({
      POLICY_FILE: writePolicy(notifyPolicy(s, hookUrl)),
      WEBHOOK_SECRET_TEST: SECRET,
      NOTIFY_SCAN_INTERVAL: '1m',
      NOTIFY_DELIVERY_INTERVAL: '5s',
    }),
    {},
    { clock: 'simulator', database: 'own' },
  );

  it('scans once the clock passes NOTIFY_SCAN_INTERVAL and delivers without being asked', async () => {
    const id = await issueAndAge(stack, await adminOf(stack.g), 'timed', 30, 90);
    const got = await until(async () =>
      receiver.about(id).some((r) => r.type === 'credential.expired')
        ? receiver.about(id)
        : undefined,
    );
    // First seen past its expiry: the expiry alone, no late "expiring" notice.
    expect(got.map((r) => [r.type, r.signatureOk])).toEqual([['credential.expired', true]]);
  });
});

describe('notifications: shutdown', () => {
  let hanging: Server;
  let hangingUrl = '';
  let taken = 0;
  beforeAll(async () => {
    hanging = createServer(() => {
      taken++;
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/slow`;
  });
  afterAll(async () => {
    hanging.closeAllConnections();
    await new Promise((resolve) => hanging.close(resolve));
  });

  const sim = {} as { s: StartedSimulator };
  beforeAll(async () => {
    sim.s = await startSimulator();
  });
  afterAll(() => sim.s.sim.close());

  it('ends the attempts under way instead of waiting out NOTIFY_TIMEOUT_MS, and keeps them pending', async () => {
    const g = await startGateway(
      sim.s,
      {
        POLICY_FILE: writePolicy(
          scopeOnlyPolicy(
            sim.s,
            `notify:\n  webhooks:\n    - { name: slow, url: "${hangingUrl}", secret_env: WEBHOOK_SECRET_TEST }`,
          ),
        ),
        WEBHOOK_SECRET_TEST: SECRET,
        NOTIFY_TIMEOUT_MS: '60000',
      },
      // The file's database: it outlives this gateway, so the rows can be read after it closed.
      { clock: 'simulator' },
    );
    const url = g.db.url;
    let closed = false;
    try {
      const admin = await adminOf(g);
      await issueAndAge({ g, s: sim.s }, admin, 'late');
      const running = g
        .http()
        .post('/v1/notifications/run')
        .set(admin)
        .then(
          (res) => res,
          (error: Error) => error,
        );
      await until(async () => (taken > 0 ? true : undefined));
      const started = Date.now();
      await g.close();
      closed = true;
      expect(Date.now() - started).toBeLessThan(10_000);
      await running;
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query(
          "SELECT status, attempts, last_error FROM notification_deliveries WHERE target = 'slow'",
        );
        expect(rows).toEqual([
          { status: 'pending', attempts: 1, last_error: 'the gateway is shutting down' },
        ]);
      } finally {
        await client.end();
      }
    } finally {
      if (!closed) await g.close();
    }
  });
});

describe('notifications: targets follow the policy in force', () => {
  const receiver = new Receiver();
  let hookUrl = '';
  let policyFile = '';
  beforeAll(async () => {
    hookUrl = await receiver.start();
  });
  afterAll(() => receiver.close());

  const hooks = (...names: string[]) =>
    [
      'notify:',
      '  webhooks:',
      ...names.map(
        (n) => `    - { name: ${n}, url: "${hookUrl}?to=${n}", secret_env: WEBHOOK_SECRET_TEST }`,
      ),
    ].join('\n');
  const stack = useStack(
    (s) => {
      policyFile = writePolicy(scopeOnlyPolicy(s, hooks('old')));
      return { POLICY_FILE: policyFile, WEBHOOK_SECRET_TEST: SECRET };
    },
    {},
    { clock: 'simulator', database: 'own' },
  );

  it('gives up the deliveries of a target that left the policy; a target added gets the events after it', async () => {
    const admin = await adminOf(stack.g);
    const expire = (label: string) => issueAndAge(stack, admin, label);
    const run = () => runNotifications(stack.g, admin);
    const reload = async (text: string) => {
      const store = stack.g.app.get(PolicyStore);
      const reloaded = once(store, 'reloaded', { signal: AbortSignal.timeout(5000) });
      writeFileSync(policyFile, scopeOnlyPolicy(stack.s, text));
      await reloaded;
    };

    receiver.down = true;
    const first = await expire('first');
    expect((await run()).delivery).toMatchObject({ created: 1, retrying: 1 });
    await reload(hooks('new'));
    receiver.down = false;
    await stack.s.admin.advanceClock(3600);
    expect((await run()).delivery).toMatchObject({ attempted: 1, failed: 1, delivered: 0 });
    const failed = await stack.g.http().get('/v1/notifications?status=failed').set(admin);
    expect(failed.body.deliveries).toMatchObject([
      { target: 'old', last_error: 'target old is no longer in the policy', attempts: 2 },
    ]);

    const second = await expire('second');
    expect((await run()).delivery).toMatchObject({ created: 1, delivered: 1 });
    expect(receiver.about(second).map((r) => r.status)).toEqual([204]);
    // The earlier event is not replayed to the new target; it went (503) to the old one only.
    expect(receiver.about(first).map((r) => r.status)).toEqual([503]);
  });
});

describe('notifications: a receiver that redirects', () => {
  const receiver = new Receiver();
  let target = '';
  let redirecting: Server;
  let redirectUrl = '';
  beforeAll(async () => {
    target = await receiver.start();
    // Answers every request with a redirect to the receiver (another place on 127.0.0.1).
    redirecting = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(307, { location: target }).end());
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    redirectUrl = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    await new Promise((resolve) => redirecting.close(resolve));
    await receiver.close();
  });

  const stack = webhookStack(() => [
    `    - { name: moved, url: "${redirectUrl}", secret_env: WEBHOOK_SECRET_TEST }`,
  ]);

  it('does not follow it: the delivery is retried naming the refused redirect (not where it pointed)', async () => {
    const admin = await adminOf(stack.g);
    await issueAndAge(stack, admin, 'moved');
    expect((await runNotifications(stack.g, admin)).delivery).toMatchObject({
      attempted: 1,
      retrying: 1,
    });
    const [delivery] = (
      await stack.g.http().get('/v1/notifications?status=pending').set(admin).expect(200)
    ).body.deliveries;
    expect(delivery).toMatchObject({ target: 'moved', last_status: 307, attempts: 1 });
    expect(delivery.last_error).toBe('HTTP 307: a redirect, not followed (Keygate follows none)');
    expect(receiver.got).toEqual([]);
  });
});

describe('notifications: a webhook at a link-local address (cloud metadata)', () => {
  const stack = webhookStack(() => [
    '    - { name: metadata, url: "http://169.254.169.254/latest/meta-data/", secret_env: WEBHOOK_SECRET_TEST }',
    '    - { name: metadata6, url: "http://[fe80::a9fe:a9fe]/hook", secret_env: WEBHOOK_SECRET_TEST }',
  ]);

  it('is never connected to: each attempt is refused before any connection, named, retried', async () => {
    const admin = await adminOf(stack.g);
    await issueAndAge(stack, admin, 'meta');
    expect((await runNotifications(stack.g, admin)).delivery).toMatchObject({
      attempted: 2,
      retrying: 2,
      delivered: 0,
    });
    const deliveries = (
      await stack.g.http().get('/v1/notifications?status=pending').set(admin).expect(200)
    ).body.deliveries as { target: string; last_error: string; last_status: number | null }[];
    expect(deliveries.map((d) => [d.target, d.last_error, d.last_status]).sort()).toEqual([
      [
        'metadata',
        'refused: 169.254.169.254 is a link-local address where cloud metadata lives; no webhook is sent there',
        null,
      ],
      [
        'metadata6',
        'refused: fe80::a9fe:a9fe is a link-local address where cloud metadata lives; no webhook is sent there',
        null,
      ],
    ]);
  });
});
