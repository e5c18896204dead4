import type { Caller } from '@app/auth';
import { IssuanceCounter } from './issuance-counter';

const HOUR = 3600_000;
const alice: Caller = { subject: 'alice', team: 'payments', roles: [] };
const bob: Caller = { subject: 'bob', team: 'payments', roles: [] };

describe('IssuanceCounter', () => {
  const now = Date.now();

  it('counts the last hour per team and per subject, from the log in any order', () => {
    const counter = new IssuanceCounter();
    for (const minutesAgo of [50, 10, 30, 70])
      counter.record('payments', 'alice', now - minutesAgo * 60_000);
    counter.record('payments', 'bob', now - 5 * 60_000);
    expect(counter.usage(alice, now)).toEqual({ teamLastHour: 4, subjectLastHour: 3 });
    expect(counter.usage(bob, now)).toEqual({ teamLastHour: 4, subjectLastHour: 1 });
    // the oldest of alice's three leaves the window 10 minutes from now
    expect(counter.retryAfterSeconds(alice, undefined, 3, now)).toBe(600);
    expect(counter.usage(alice, now + 10 * 60_000)).toEqual({
      teamLastHour: 3,
      subjectLastHour: 2,
    });
  });

  it('reserves before the vendor call and gives the place back when asked', () => {
    const counter = new IssuanceCounter();
    const release = counter.reserve(alice, now);
    expect(counter.usage(alice, now).subjectLastHour).toBe(1);
    release();
    expect(counter.usage(alice, now)).toEqual({ teamLastHour: 0, subjectLastHour: 0 });
    expect(counter.retryAfterSeconds(alice, 5, 5, now)).toBe(1);
    counter.reserve(alice, now - HOUR + 1000);
    expect(counter.retryAfterSeconds(alice, 1, undefined, now)).toBe(1);
  });
});
