/**
 * The gateway's clock for the credential lifecycle (expiry notices, reconciliation and delivery
 * schedules, session timeouts): wall time in production; in tests the simulator's clock, moved
 * instead of sleeping (startGateway's `clock` option).
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The Nest injection token of the Clock. */
export const CLOCK = Symbol('CLOCK');

export const systemClock: Clock = { now: () => Date.now() };
