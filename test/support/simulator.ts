import request from 'supertest';
import { generatedCredentials, SimulatorOptions, UpstreamSimulator } from '@app/upstream-sim';
import type { FaultSpec } from '@app/upstream-sim';

export interface SimState {
  requests: Record<string, number>;
  qwiet: {
    tokens: {
      id: string;
      org_id: string;
      label: string;
      token_type: string;
      seeded: boolean;
      revoked_at: string | null;
    }[];
  };
  octane: {
    sign_ins: number;
    active_sessions: number;
    api_accesses: {
      id: string;
      name: string;
      client_id: string;
      is_valid: boolean;
      seeded: boolean;
      revoked_at: string | null;
      regenerated_at: string[];
    }[];
  };
}

/** A simulator on an ephemeral loopback port with fresh credentials and its admin surface on. */
export async function startSimulator(overrides: Partial<SimulatorOptions> = {}) {
  const options: SimulatorOptions = { ...generatedCredentials(), admin: true, ...overrides };
  const sim = await UpstreamSimulator.start(options);
  const admin = {
    state: async (): Promise<SimState> =>
      (await request(sim.url).get('/__sim/state').expect(200)).body,
    fault: async (spec: FaultSpec) => request(sim.url).post('/__sim/faults').send(spec).expect(201),
    advanceClock: async (seconds: number) =>
      request(sim.url).post('/__sim/clock').send({ advance_seconds: seconds }).expect(200),
    expireOctaneSessions: async () =>
      request(sim.url).post('/__sim/octane/expire-sessions').expect(200),
    rotateOctaneSessions: async () =>
      request(sim.url).post('/__sim/octane/rotate-sessions').expect(200),
    reset: async () => request(sim.url).post('/__sim/reset').expect(200),
    /**
     * An Octane key created at the vendor behind Keygate's back, in the first shared space with
     * Keygate's own key (Keygate has no record of it); returns its id.
     */
    octaneKeyBehindKeygate: async (key: { name: string; expiration?: string }) => {
      const space = options.octaneSpaces[0];
      const signIn = await request(sim.url)
        .post('/authentication/sign_in')
        .send({ client_id: space.clientId, client_secret: space.clientSecret })
        .expect(200);
      const created = await request(sim.url)
        .post(`/api/shared_spaces/${space.id}/api_accesses`)
        .set('Cookie', signIn.headers['set-cookie'])
        .set('ALM-OCTANE-TECH-PREVIEW', 'true')
        .send({ data: [{ client_secret: 'Behind@the-back-01', ...key }] })
        .expect(201);
      return String(created.body.data[0].id);
    },
  };
  return { sim, options, admin, http: () => request(sim.url) };
}

export type StartedSimulator = Awaited<ReturnType<typeof startSimulator>>;
