import { UpstreamError } from '@app/upstream';
import type { CircuitState } from '@app/upstream';
import { VendorCheck } from './vendor-check';

describe('VendorCheck (background readiness of one vendor)', () => {
  let now = 1_000_000;
  let circuit: CircuitState = 'closed';
  let calls: string[] = [];
  let answer: (id: string) => Promise<{ status: number }> = async () => ({ status: 200 });
  const check = () =>
    new VendorCheck({
      vendor: 'qwiet',
      credentials: ['org-a', 'org-b'],
      call: (id) => {
        calls.push(id);
        return answer(id);
      },
      circuit: () => circuit,
      periodMs: 30_000,
      now: () => now,
    });
  beforeEach(() => {
    now = 1_000_000;
    circuit = 'closed';
    calls = [];
    answer = async () => ({ status: 200 });
  });

  it('makes one call for any number of concurrent refreshes, and none again within the period', async () => {
    const c = check();
    let release: () => void = () => undefined;
    answer = () => new Promise((resolve) => (release = () => resolve({ status: 200 })));
    const pending = Array.from({ length: 200 }, () => c.refresh());
    release();
    await Promise.all(pending);
    expect(calls).toEqual(['org-a']);
    now += 29_999;
    await c.refresh();
    expect(calls).toHaveLength(1);
    expect(c.isUp()).toBe(true);
  });

  it('takes the credentials in turn and keeps the last result of each', async () => {
    const c = check();
    answer = async (id) => ({ status: id === 'org-a' ? 401 : 200 });
    await c.refresh();
    now += 30_000;
    await c.refresh();
    expect(calls).toEqual(['org-a', 'org-b']);
    expect(c.isUp()).toBe(false);
    expect(c.downReason()).toBe('credentials_rejected');
    expect(c.credentialResults().get('org-a')).toMatchObject({ ok: false, vendorStatus: 401 });
    expect(c.credentialResults().get('org-b')).toMatchObject({ ok: true });
    expect(c.lastCredential).toBe('org-b');
  });

  it('takes a 403 as a refused credential and an UpstreamError by its failure class', async () => {
    const c = check();
    answer = async () => ({ status: 403 });
    await c.refresh();
    expect(c.downReason()).toBe('credentials_rejected');
    answer = async () => {
      throw new UpstreamError(
        'qwiet',
        'qwiet.roles.list',
        'timeout',
        'Qwiet did not answer in time',
      );
    };
    now += 30_000;
    await c.refresh();
    expect(c.credentialResults().get('org-b')).toMatchObject({ ok: false, error: 'timeout' });
  });

  it('makes no call while the circuit is not closed; an open circuit is down', async () => {
    const c = check();
    await c.refresh();
    circuit = 'open';
    now += 60_000;
    await c.refresh();
    expect(c.isUp()).toBe(false);
    expect(c.downReason()).toBe('circuit_open');
    circuit = 'half_open';
    await c.refresh();
    expect(calls).toEqual(['org-a']);
    expect(c.isUp()).toBe(true);
  });

  it('is down until checked, and stops checking once stopped', async () => {
    const c = check();
    expect(c.isUp()).toBe(false);
    expect(c.downReason()).toBe('not_checked');
    c.stop();
    await c.refresh();
    expect(calls).toEqual([]);
  });
});
