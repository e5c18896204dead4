import { checkpointMac } from './keys';
import type { ChainPoint } from './verify';

/** A point of the chain signed with the checkpoint key, for a witness outside the log (the stdout log). */
export interface Checkpoint extends ChainPoint {
  mac: string;
  time: string;
  /** `SEQ:HASH:MAC`, as `keygate audit verify --checkpoint` takes it. */
  checkpoint: string;
}

export function makeCheckpoint(key: string, point: ChainPoint, now = new Date()): Checkpoint {
  const mac = checkpointMac(key, point.seq, point.hash);
  return {
    seq: point.seq,
    hash: point.hash,
    mac,
    time: now.toISOString(),
    checkpoint: `${point.seq}:${point.hash}:${mac}`,
  };
}

/**
 * A checkpoint as given to verify: `SEQ:HASH`, `SEQ:HASH:MAC`, or the gateway's whole
 * "audit checkpoint" log line (JSON with a `checkpoint` field). Undefined when it is none of these.
 */
export function parseCheckpoint(text: string): (ChainPoint & { mac?: string }) | undefined {
  let value = text.trim();
  if (value.startsWith('{')) {
    try {
      const parsed = JSON.parse(value) as { checkpoint?: unknown };
      if (typeof parsed.checkpoint !== 'string') return undefined;
      value = parsed.checkpoint;
    } catch {
      return undefined;
    }
  }
  const match = /^(\d{1,15}):([0-9a-f]{64})(?::([0-9a-f]{64}))?$/.exec(value);
  if (!match) return undefined;
  return { seq: Number(match[1]), hash: match[2], ...(match[3] && { mac: match[3] }) };
}

export interface CheckpointWriterOptions {
  key: string;
  /** Where the log is now. */
  position: () => ChainPoint;
  /** Writes one checkpoint (the gateway: a pino line "audit checkpoint"). */
  emit: (checkpoint: Checkpoint) => void;
  /** At least this often while the log moved (default one minute). */
  everyMs?: number;
}

/** Emits a signed checkpoint every `everyMs` when the log moved since the last one, and at stop. */
export class CheckpointWriter {
  private timer?: NodeJS.Timeout;
  private lastSeq = -1;

  constructor(private readonly options: CheckpointWriterOptions) {}

  start(): void {
    this.lastSeq = this.options.position().seq;
    this.timer = setInterval(() => this.tick(), this.options.everyMs ?? 60_000);
    this.timer.unref();
  }

  /** One checkpoint now, if the log moved since the last (or `always`, at shutdown, once it has records). */
  tick(always = false): void {
    const point = this.options.position();
    if (point.seq === 0 || (!always && point.seq === this.lastSeq)) return;
    this.lastSeq = point.seq;
    this.options.emit(makeCheckpoint(this.options.key, point));
  }

  /** Stops the timer and writes the last checkpoint. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.tick(true);
  }
}
