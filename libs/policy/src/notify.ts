import { NOTIFICATION_EVENTS } from '@app/common';
import type { NotificationEventName } from '@app/common';

/**
 * The policy's `notify` block: when to warn before a credential expires, and where notifications
 * go (webhooks, each signed with a secret the gateway reads from the environment variable named).
 */
export interface NotifyWebhook {
  /** Stable name: deliveries are kept per (event, target name). */
  name: string;
  /** http(s) only, without user:password (the secret is never in the URL). */
  url: string;
  /** The environment variable holding the HMAC-SHA256 signing secret: `WEBHOOK_SECRET_<NAME>`. */
  secret_env: string;
  /** Only these events (default: every notification event). */
  events?: NotificationEventName[];
}

export interface NotifyDocument {
  /** Before expiry, e.g. `[7d, 1d]`: a number and a unit, `m` minutes, `h` hours, `d` days. */
  expiry_thresholds?: string[];
  webhooks?: NotifyWebhook[];
}

export interface ExpiryThreshold {
  /** As written, e.g. `7d`. */
  label: string;
  seconds: number;
}

export interface CompiledNotify {
  /** Largest first; none when the policy sets none (no `credential.expiring` notices then). */
  thresholds: ExpiryThreshold[];
  webhooks: NotifyWebhook[];
}

/** The prefix every webhook secret's variable must have: the policy can name no other variable. */
export const WEBHOOK_SECRET_PREFIX = 'WEBHOOK_SECRET_';

const DURATION = /^([1-9][0-9]{0,4})([mhd])$/;
const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86_400 };

/** `7d` -> 604800; undefined when it is not a duration of the notify block. */
export function thresholdSeconds(text: string): number | undefined {
  const match = DURATION.exec(text);
  return match ? Number(match[1]) * UNIT_SECONDS[match[2]] : undefined;
}

/** The JSON Schema of the `notify` block (policy.schema.ts). */
export const NOTIFY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    expiry_thresholds: {
      type: 'array',
      maxItems: 10,
      uniqueItems: true,
      items: { type: 'string', pattern: DURATION.source },
    },
    webhooks: {
      type: 'array',
      maxItems: 20,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'url', 'secret_env'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' },
          url: { type: 'string', pattern: '^https?://', maxLength: 2048 },
          secret_env: { type: 'string', pattern: `^${WEBHOOK_SECRET_PREFIX}[A-Z0-9_]{1,64}$` },
          events: {
            type: 'array',
            uniqueItems: true,
            minItems: 1,
            items: { enum: [...NOTIFICATION_EVENTS] },
          },
        },
      },
    },
  },
} as const;

/**
 * Checks what the schema cannot (URLs that parse, no credentials in them, unique names, thresholds
 * that differ once converted) and orders the thresholds, largest first. Problems are pushed.
 */
export function compileNotify(doc: NotifyDocument | undefined, problems: string[]): CompiledNotify {
  const thresholds: ExpiryThreshold[] = [];
  const seen = new Map<number, string>();
  for (const label of doc?.expiry_thresholds ?? []) {
    const seconds = thresholdSeconds(label) as number;
    const twin = seen.get(seconds);
    if (twin !== undefined)
      problems.push(`notify.expiry_thresholds: ${label} is the same threshold as ${twin}`);
    else {
      seen.set(seconds, label);
      thresholds.push({ label, seconds });
    }
  }
  thresholds.sort((a, b) => b.seconds - a.seconds);
  const names = new Set<string>();
  const webhooks: NotifyWebhook[] = [];
  (doc?.webhooks ?? []).forEach((hook, i) => {
    const at = `notify.webhooks.${i}`;
    if (names.has(hook.name)) problems.push(`${at}.name: ${hook.name} is listed twice`);
    names.add(hook.name);
    let url: URL;
    try {
      url = new URL(hook.url);
    } catch {
      problems.push(`${at}.url: not a valid URL`);
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      problems.push(`${at}.url: only http and https URLs are allowed`);
    else if (url.username || url.password)
      problems.push(
        `${at}.url: must not carry a user or password (the signing secret comes from secret_env)`,
      );
    else webhooks.push({ ...hook });
  });
  return { thresholds, webhooks };
}
