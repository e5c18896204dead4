import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditRecord } from '@app/audit';
import type { Caller } from '@app/auth';
import { GatewayError } from '@app/common';
import { Database } from '@app/ledger';
import { UpstreamError, VendorResponse } from '@app/upstream';
import {
  asServer,
  createTestDatabase,
  ledgerRecords,
  terminateGatewaySessions,
} from '../../../../test/support/db';
import { AuditService } from '../audit/audit.service';
import type { RequestMeta } from '../audit/request-meta';
import { loadGatewayConfig } from '../config/env.validation';
import { IssuanceCounter } from '../limits/issuance-counter';
import { MetricsService } from '../metrics/metrics.service';
import { CredentialOwners } from '../policy/credential-owners';
import { PolicyEnforcer } from '../policy/policy.enforcer';
import { PolicyStore } from '../policy/policy.store';
import { systemClock } from '../common/clock';
import { IdempotencyKeys } from './idempotency';
import { IssuancePipeline } from './issuance.pipeline';
import { LostAnswers } from './lost-answers';
import { IssuanceOperation, LostAnswerFinding, VendorAnswered } from './operation';
import { OperationsRegistry } from './operations.registry';
import { RevocationVerifier } from './verification';

const ORG = '2c0b6f7e-1d5a-4c1f-9a36-8f0f5b1e7d42';
const alice: Caller = { subject: 'alice', team: 'payments', roles: [] };
let n = 0;
const meta = (): RequestMeta => ({ requestId: `req-${++n}`, callerRequestId: `caller-${n}` });

interface FakeInput {
  label: string;
}

/**
 * A fake vendor action: the pipeline's own steps (decide, attempt, call, outcome, compensation,
 * lost answers, fail closed) are checked in milliseconds, without HTTP. The ledger, the policy and
 * the counters are the real ones, on a database of the tests' PostgreSQL.
 */
function fakeOperation(behaviour: {
  send?: () => Promise<VendorResponse>;
  findLost?: () => Promise<LostAnswerFinding>;
  prepare?: () => Promise<FakeInput>;
}) {
  const calls = { send: 0, undo: 0, findLost: 0 };
  const op: IssuanceOperation<FakeInput> = {
    event: 'qwiet.token.issue',
    ...(behaviour.prepare && { prepare: behaviour.prepare }),
    target: ({ label }) => ({ vendor: 'qwiet', org_id: ORG, label }),
    policy: ({ label }) => ({
      action: 'qwiet.token.issue',
      orgId: ORG,
      token: { label, role_id: '66ad5168-41be-4b6c-9ac5-a30b02229c35' },
    }),
    send: async () => {
      calls.send++;
      return behaviour.send
        ? behaviour.send()
        : { status: 200, body: { ok: true, response: { id: 'tok-1', value: 'secret-1' } } };
    },
    issued: (_input, answer) => ({
      credentialId: (answer.body as { response: { id: string } }).response.id,
      secret: (answer.body as { response: { value: string } }).response.value,
    }),
    undo: async () => {
      calls.undo++;
    },
    findLost: async () => {
      calls.findLost++;
      return behaviour.findLost ? behaviour.findLost() : { kind: 'pending' };
    },
  };
  return { op, calls };
}

async function stack(policyRules = '') {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-pipeline-'));
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(
    policyFile,
    `version: 1\n${policyRules}\nteams:\n  payments: { qwiet_orgs: [${ORG}] }\n`,
  );
  const db = await createTestDatabase();
  const config = loadGatewayConfig({
    QWIET_BASE_URL: 'http://127.0.0.1:9/api/v4',
    QWIET_ORG_TOKENS: JSON.stringify({ [ORG]: 'eyJ.x.y' }),
    OCTANE_BASE_URL: 'http://127.0.0.1:9',
    OCTANE_CREDENTIALS: JSON.stringify({
      '1001': { client_id: 'k_x', client_secret: 'Xx1!xxxxxxxx' },
    }),
    POLICY_FILE: policyFile,
    AUDIT_HMAC_KEY: 'k'.repeat(32),
    DATABASE_URL: db.url,
    AUTH_JWT_SECRET: 's'.repeat(32),
    LOST_ANSWER_WINDOW_MS: '0',
    LOG_LEVEL: 'silent',
  });
  const metrics = new MetricsService();
  const database = await Database.connect({ url: db.url, applicationName: 'keygate-gateway' });
  const owners = new CredentialOwners(database);
  const counter = new IssuanceCounter(database);
  const audit = new AuditService(config, owners, metrics, database);
  await audit.onModuleInit();
  const store = new PolicyStore(config);
  const enforcer = new PolicyEnforcer(store, metrics);
  const build = (op: IssuanceOperation<FakeInput>) => {
    const lost = new LostAnswers(config, audit, new OperationsRegistry([op]), owners);
    const registry = new OperationsRegistry([op]);
    const verifier = new RevocationVerifier(audit, systemClock, database, registry);
    const idempotency = new IdempotencyKeys(database, systemClock, audit);
    return {
      pipeline: new IssuancePipeline(enforcer, audit, counter, lost, owners, verifier, idempotency),
      lost,
    };
  };
  const records = async (): Promise<AuditRecord[]> =>
    (await ledgerRecords(db.url)).filter((r) => r.event === 'qwiet.token.issue');
  /** The ledger refuses from now on: the database takes no connection, the open ones are ended. */
  const breakLedger = async () => {
    await asServer(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
    await terminateGatewaySessions(db.name);
  };
  const close = async () => {
    store.onModuleDestroy();
    await audit.onApplicationShutdown();
    await database.close();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { build, records, breakLedger, close };
}

describe('IssuancePipeline (fake operation, real ledger and policy)', () => {
  let s: Awaited<ReturnType<typeof stack>>;
  afterEach(() => s.close());

  it('records the attempt before the call and the outcome after it, with the fingerprint of what was issued', async () => {
    s = await stack();
    let recordedBeforeCall: string[] = [];
    const { op } = fakeOperation({
      send: async () => {
        recordedBeforeCall = (await s.records()).map((r) => r.phase);
        return { status: 200, body: { ok: true, response: { id: 'tok-1', value: 'secret-1' } } };
      },
    });
    const result = await s.build(op).pipeline.run(op, { label: 'ci' }, alice, meta());
    expect(result.answer.status).toBe(200);
    expect(recordedBeforeCall).toEqual(['attempt']);
    const [attempt, outcome] = await s.records();
    expect(attempt.request_id).toBe(outcome.request_id);
    expect(attempt.caller_request_id).toMatch(/^caller-/);
    expect(outcome).toMatchObject({
      phase: 'succeeded',
      target: { credential_id: 'tok-1' },
      fingerprint: expect.stringMatching(/^hmac-sha256:/),
    });
    expect(JSON.stringify(await s.records())).not.toContain('secret-1');
  });

  it('denies before any vendor call, recording attempt and denial', async () => {
    s = await stack("rules:\n  qwiet: { label_pattern: { pattern: '^ci-' } }");
    const { op, calls } = fakeOperation({});
    await expect(
      s.build(op).pipeline.run(op, { label: 'nope' }, alice, meta()),
    ).rejects.toMatchObject({ status: 403, code: 'POLICY_VIOLATION' });
    expect(calls.send).toBe(0);
    expect((await s.records()).map((r) => r.phase)).toEqual(['attempt', 'denied']);
  });

  it('fails closed: no ledger, no vendor call (503 AUDIT_UNAVAILABLE)', async () => {
    s = await stack();
    await s.breakLedger();
    const { op, calls } = fakeOperation({});
    await expect(
      s.build(op).pipeline.run(op, { label: 'ci' }, alice, meta()),
    ).rejects.toMatchObject({ status: 503, code: 'AUDIT_UNAVAILABLE' });
    expect(calls.send).toBe(0);
  });

  it('undoes at the vendor what it cannot record, and answers 503', async () => {
    s = await stack();
    const { op, calls } = fakeOperation({
      send: async () => {
        // The ledger breaks between the attempt and the outcome.
        await s.breakLedger();
        return { status: 200, body: { ok: true, response: { id: 'tok-9', value: 'secret-9' } } };
      },
    });
    const error = await s
      .build(op)
      .pipeline.run(op, { label: 'ci' }, alice, meta())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('AUDIT_UNAVAILABLE');
    expect(calls.undo).toBe(1);
  });

  it('asks the vendor about a lost answer in the background and records what it proves', async () => {
    s = await stack();
    const { op, calls } = fakeOperation({
      send: async () => {
        throw new UpstreamError('qwiet', 'qwiet.tokens.create', 'timeout', 'too slow');
      },
      findLost: async () => ({
        kind: 'settled',
        phase: 'compensated',
        note: 'found by its marker: revoked',
        extra: { target: { credential_id: 'tok-lost' } },
      }),
    });
    await expect(
      s.build(op).pipeline.run(op, { label: 'ci' }, alice, meta()),
    ).rejects.toBeInstanceOf(UpstreamError);
    for (let i = 0; i < 200 && (await s.records()).length < 3; i++)
      await new Promise((r) => setImmediate(r));
    expect((await s.records()).map((r) => [r.phase, r.note])).toEqual([
      ['attempt', undefined],
      ['failed', undefined],
      ['compensated', 'lost answer: found by its marker: revoked'],
    ]);
    expect(calls.findLost).toBe(1);
  });

  it('does not ask about a refusal that cannot have issued anything (credentials rejected)', async () => {
    s = await stack();
    const { op, calls } = fakeOperation({
      send: async () => {
        throw new UpstreamError('qwiet', 'qwiet.tokens.create', 'credentials_rejected', 'no');
      },
    });
    await expect(s.build(op).pipeline.run(op, { label: 'ci' }, alice, meta())).rejects.toThrow();
    expect(calls.findLost).toBe(0);
  });

  it('records a failed look-up before the decision, and answers with the vendor’s refusal', async () => {
    s = await stack();
    const { op, calls } = fakeOperation({
      prepare: async () => {
        throw new VendorAnswered({ status: 404, body: { ok: false, code: 'NOT_FOUND' } });
      },
    });
    const result = await s.build(op).pipeline.run(op, { label: 'ci' }, alice, meta());
    expect(result.answer.status).toBe(404);
    expect(calls.send).toBe(0);
    expect((await s.records()).map((r) => [r.phase, r.vendor?.status])).toEqual([
      ['attempt', undefined],
      ['failed', 404],
    ]);
  });
});
