import type { SimClock } from '../clock';
import { behindTheBackRoutes } from './behind-the-back.routes';
import { FaultInjector, validateFaultSpec } from '../faults/faults';
import type { Route, SimResponse } from '../http/router';
import type { OctaneSessions } from '../octane/octane.sessions';
import type { OctaneStore } from '../octane/octane.store';
import type { QwietStore } from '../qwiet/qwiet.store';

export interface AdminDeps {
  clock: SimClock;
  faults: FaultInjector;
  qwiet: QwietStore;
  octane: OctaneStore;
  sessions: OctaneSessions;
  requestCounts: Map<string, number>;
  reset: () => void;
}

const iso = (ms: number | undefined): string | null =>
  ms === undefined ? null : new Date(ms).toISOString();
const badRequest = (errors: string[]): SimResponse => ({ status: 400, body: { errors } });

/** Everything a test needs to see what the "vendors" did: issued, revoked, when, and how often called. */
export function simulatorState(deps: AdminDeps): Record<string, unknown> {
  return {
    now: iso(deps.clock.now()),
    requests: Object.fromEntries(deps.requestCounts),
    qwiet: {
      tokens: deps.qwiet.all().map((t) => ({
        id: t.id,
        org_id: t.orgId,
        label: t.label,
        role_id: t.roleId,
        token_type: t.tokenType,
        seeded: t.seeded,
        created_at: iso(t.createdAt),
        expires_at: iso(t.expiresAt),
        revoked_at: iso(t.revokedAt),
      })),
    },
    octane: {
      sign_ins: deps.sessions.signIns,
      active_sessions: deps.sessions.active(),
      api_accesses: deps.octane.allApiAccesses().map((a) => ({
        id: a.entity.id,
        shared_space_id: a.spaceId,
        name: a.entity.name,
        client_id: a.entity.client_id,
        is_valid: a.entity.is_valid,
        expiration: a.entity.expiration,
        seeded: a.seeded,
        created_at: iso(a.createdAt),
        revoked_at: iso(a.revokedAt),
        regenerated_at: a.regeneratedAt.map((t) => iso(t)),
      })),
    },
  };
}

export function adminRoutes(deps: AdminDeps): Route[] {
  const route = (
    method: string,
    pattern: string,
    op: string,
    handler: Route['handler'],
  ): Route => ({
    method,
    pattern: `/__sim${pattern}`,
    op,
    vendor: 'admin',
    handler,
  });
  return [
    route('GET', '/state', 'sim.state', () => ({ status: 200, body: simulatorState(deps) })),
    route('POST', '/reset', 'sim.reset', () => {
      deps.reset();
      return { status: 200, body: { ok: true } };
    }),
    route('GET', '/faults', 'sim.faults.list', () => ({ status: 200, body: deps.faults.list() })),
    route('POST', '/faults', 'sim.faults.add', (r) => {
      const { spec, errors } = validateFaultSpec(r.body);
      return spec ? { status: 201, body: deps.faults.add(spec) } : badRequest(errors);
    }),
    route('DELETE', '/faults', 'sim.faults.clear', () => {
      deps.faults.clear();
      return { status: 200, body: { ok: true } };
    }),
    route('POST', '/clock', 'sim.clock', (r) => {
      const seconds = (r.body as { advance_seconds?: unknown } | undefined)?.advance_seconds;
      if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
        return badRequest(['advance_seconds must be a non-negative number']);
      }
      deps.clock.advance(seconds * 1000);
      return { status: 200, body: { now: iso(deps.clock.now()) } };
    }),
    route('POST', '/octane/expire-sessions', 'sim.octane.expire', () => ({
      status: 200,
      body: { expired: deps.sessions.expireAll() },
    })),
    route('POST', '/octane/rotate-sessions', 'sim.octane.rotate', () => ({
      status: 200,
      body: { rotating: deps.sessions.rotateAll() },
    })),
    ...behindTheBackRoutes(deps, route),
  ];
}
