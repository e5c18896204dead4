import { Injectable } from '@nestjs/common';
import type { Caller } from '@app/auth';
import type { Usage } from '@app/policy';

const HOUR_MS = 3600_000;

/**
 * Credentials issued in the last hour, per team and per subject, for the quota rules. An allowed
 * issuance reserves its place before the vendor is called (so concurrent requests cannot overrun
 * a quota) and gives it back if it does not succeed. Loaded from the audit log at start-up.
 */
@Injectable()
export class IssuanceCounter {
  private readonly windows = new Map<string, number[]>();

  usage(caller: Caller, now = Date.now()): Usage {
    return {
      teamLastHour: this.window(`team:${caller.team}`, now).length,
      subjectLastHour: this.window(`subject:${caller.subject}`, now).length,
    };
  }

  /** Counts one issuance now; the returned function takes it back. */
  reserve(caller: Caller, at = Date.now()): () => void {
    const keys = [`team:${caller.team}`, `subject:${caller.subject}`];
    for (const key of keys) this.window(key, at).push(at);
    return () => {
      for (const key of keys) {
        const window = this.windows.get(key) ?? [];
        const i = window.lastIndexOf(at);
        if (i >= 0) window.splice(i, 1);
      }
    };
  }

  record(team: string, subject: string, at: number): void {
    if (at <= Date.now() - HOUR_MS) return;
    for (const key of [`team:${team}`, `subject:${subject}`]) {
      const window = this.window(key, at);
      window.push(at);
      // The log is read in time order: sorting is only needed for the rare record out of order.
      if (window.length > 1 && window[window.length - 2] > at) window.sort((a, b) => a - b);
    }
  }

  /** Seconds until both of the caller's windows have room for `max` (the quotas in force). */
  retryAfterSeconds(
    caller: Caller,
    maxTeam: number | undefined,
    maxSubject: number | undefined,
    now = Date.now(),
  ): number {
    const wait = (key: string, max: number | undefined) => {
      const window = this.window(key, now);
      if (max === undefined || window.length < max) return 0;
      return window[window.length - max] + HOUR_MS - now;
    };
    return Math.max(
      1,
      Math.ceil(
        Math.max(
          wait(`team:${caller.team}`, maxTeam),
          wait(`subject:${caller.subject}`, maxSubject),
        ) / 1000,
      ),
    );
  }

  private window(key: string, now: number): number[] {
    let window = this.windows.get(key);
    if (!window) this.windows.set(key, (window = []));
    while (window.length > 0 && window[0] <= now - HOUR_MS) window.shift();
    return window;
  }
}
