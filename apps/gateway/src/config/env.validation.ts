import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';
import { databaseUrlProblem } from '@app/ledger';
import { OCTANE_ID, UUID } from '@app/common';
import type { GatewayConfig } from './gateway.config';
import { parseTrustProxy } from './trust-proxy';
import { DURATION_FORM, durationMs } from './duration';
import { loadNotifyConfig } from '../notifications/notify.config';
import {
  DEFAULT_ABSOLUTE_SECONDS,
  DEFAULT_IDLE_SECONDS,
  isLoopbackUrl,
} from '../session/sign-in.config';

const URL_OPTIONS = { require_tld: false, require_protocol: true, protocols: ['http', 'https'] };

/** The environment variables the gateway reads (README "Configuration"). */
class GatewayEnvironment {
  @IsOptional() @IsString() HOST?: string;
  @IsOptional() @IsInt() @Min(0) @Max(65535) PORT?: number;
  @IsOptional()
  @Matches(/^\d+(b|kb|mb)$/i, { message: 'BODY_LIMIT must look like 64kb' })
  BODY_LIMIT?: string;
  @IsOptional()
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL?: string;

  @IsUrl(URL_OPTIONS) QWIET_BASE_URL!: string;
  @IsString() @IsNotEmpty() QWIET_ORG_TOKENS!: string;
  @IsUrl(URL_OPTIONS) OCTANE_BASE_URL!: string;
  @IsString() @IsNotEmpty() OCTANE_CREDENTIALS!: string;
  @IsString() @IsNotEmpty() POLICY_FILE!: string;

  @IsString()
  @MinLength(32, { message: 'AUDIT_HMAC_KEY must be at least 32 characters' })
  AUDIT_HMAC_KEY!: string;
  @IsOptional() @IsIn(['on', 'off']) AUDIT_STDOUT?: string;
  /** Checked by databaseUrlProblem, which never echoes it (it carries a password). */
  @IsString() DATABASE_URL!: string;

  @IsOptional() @IsInt() @Min(1) @Max(1_000_000) RATE_LIMIT_PER_MINUTE?: number;
  @IsOptional() @IsInt() @Min(0) @Max(86_400_000) LOST_ANSWER_WINDOW_MS?: number;
  @IsOptional() @IsInt() @Min(100) @Max(300_000) UPSTREAM_TIMEOUT_MS?: number;
  @IsOptional() @IsInt() @Min(1) @Max(1024) UPSTREAM_MAX_SOCKETS?: number;
  @IsOptional() @IsInt() @Min(0) @Max(5) UPSTREAM_GET_RETRIES?: number;
  @IsOptional() @IsInt() @Min(100) @Max(600_000) UPSTREAM_DEADLINE_MS?: number;
  @IsOptional() @IsInt() @Min(1) @Max(100) CIRCUIT_ERROR_PERCENT?: number;
  @IsOptional() @IsInt() @Min(1) @Max(10_000) CIRCUIT_MIN_CALLS?: number;
  @IsOptional() @IsInt() @Min(100) @Max(600_000) CIRCUIT_RESET_MS?: number;
  @IsOptional() @IsInt() @Min(100) @Max(3_600_000) HEALTH_VENDOR_CHECK_MS?: number;
  @IsOptional()
  @Matches(DURATION_FORM, {
    message: 'RECONCILE_INTERVAL must be off, 0, or a duration like 300, 90s, 5m or 1h',
  })
  RECONCILE_INTERVAL?: string;
  @IsOptional() @IsInt() @Min(0) @Max(86_400_000) RECOVERY_AFTER_MS?: number;
  @IsOptional()
  @Matches(DURATION_FORM, {
    message: 'RECOVERY_INTERVAL must be off, 0, or a duration like 60, 30s, 1m or 1h',
  })
  RECOVERY_INTERVAL?: string;
  @IsOptional() @IsString() TRUST_PROXY?: string;

  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'AUTH_JWT_SECRET must be at least 32 characters' })
  AUTH_JWT_SECRET?: string;
  @IsOptional() @IsUrl(URL_OPTIONS) AUTH_JWKS_URL?: string;
  @IsOptional() @IsString() AUTH_ISSUER?: string;
  @IsOptional() @IsString() AUTH_AUDIENCE?: string;
  @IsOptional() @Matches(/^[\w:./-]+$/) AUTH_TEAM_CLAIM?: string;
  @IsOptional() @Matches(/^[\w:./-]+$/) AUTH_ROLES_CLAIM?: string;

  @IsOptional() @IsUrl(URL_OPTIONS) OIDC_ISSUER?: string;
  @IsOptional() @IsString() OIDC_CLIENT_ID?: string;
  /** Never echoed in a problem. */
  @IsOptional() @IsString() OIDC_CLIENT_SECRET?: string;
  @IsOptional() @Matches(/^[\w:./-]+$/) OIDC_TEAM_CLAIM?: string;
  @IsOptional() @Matches(/^[\w:./-]+$/) OIDC_ROLES_CLAIM?: string;
  @IsOptional() @IsUrl(URL_OPTIONS) OIDC_REDIRECT_URL?: string;
  @IsOptional() @IsInt() @Min(60) @Max(86_400) SESSION_IDLE_SECONDS?: number;
  @IsOptional() @IsInt() @Min(60) @Max(30 * 86_400) SESSION_ABSOLUTE_SECONDS?: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

function parseJson(name: string, value: string, problems: string[]): unknown {
  try {
    return JSON.parse(value);
  } catch {
    problems.push(`${name} is not valid JSON`);
    return undefined;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * QWIET_ORG_TOKENS: `{"<org>": "<token>"}`, or `{"<org>": {"token": "...", "token_id": "<uuid>"}}`
 * to name the token's own id when the token does not carry it (`jti`): Keygate protects it.
 */
function orgTokens(
  raw: unknown,
  problems: string[],
): { tokens: Record<string, string>; ids: Record<string, string> } {
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  if (!isRecord(raw)) {
    if (raw !== undefined)
      problems.push('QWIET_ORG_TOKENS must be {"<org uuid>": "<access token>", ...}');
    return { tokens, ids };
  }
  for (const [org, value] of Object.entries(raw)) {
    const token = isRecord(value) ? value.token : value;
    const id = isRecord(value) ? value.token_id : undefined;
    if (!UUID.test(org))
      problems.push(`QWIET_ORG_TOKENS: key ${JSON.stringify(org)} is not an org UUID`);
    else if (typeof token !== 'string' || token === '')
      problems.push(`QWIET_ORG_TOKENS: the token of org ${org} is empty`);
    else if (id !== undefined && (typeof id !== 'string' || !UUID.test(id)))
      problems.push(`QWIET_ORG_TOKENS: the token_id of org ${org} is not a token UUID`);
    else {
      tokens[org.toLowerCase()] = token;
      if (typeof id === 'string') ids[org.toLowerCase()] = id.toLowerCase();
    }
  }
  return { tokens, ids };
}

function octaneCredentials(raw: unknown, problems: string[]): OctaneCredentialsBySpace {
  const out: OctaneCredentialsBySpace = {};
  if (!isRecord(raw)) {
    if (raw !== undefined)
      problems.push(
        'OCTANE_CREDENTIALS must be {"<shared space id>": {"client_id": "...", "client_secret": "..."}}',
      );
    return out;
  }
  for (const [space, value] of Object.entries(raw)) {
    const v = isRecord(value) ? value : {};
    if (!OCTANE_ID.test(space))
      problems.push(
        `OCTANE_CREDENTIALS: key ${JSON.stringify(space)} is not a shared space id (digits, no leading zero)`,
      );
    else if (
      typeof v.client_id !== 'string' ||
      typeof v.client_secret !== 'string' ||
      !v.client_id ||
      !v.client_secret
    ) {
      problems.push(
        `OCTANE_CREDENTIALS: shared space ${space} needs a client_id and a client_secret`,
      );
    } else out[space] = { clientId: v.client_id, clientSecret: v.client_secret };
  }
  return out;
}
type OctaneCredentialsBySpace = Record<string, { clientId: string; clientSecret: string }>;

/** Reads and checks the whole configuration; every problem is named in one ConfigError. */
const UNIT_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };

/** `64kb` -> 65536 (the format BODY_LIMIT is validated against). */
const byteSize = (text: string): number => {
  const [, count, unit] = /^(\d+)(b|kb|mb)$/i.exec(text) as RegExpExecArray;
  return Number(count) * UNIT_BYTES[unit.toLowerCase()];
};

/** The variables without a default: a missing one is named with what it should hold. */
const REQUIRED: Record<string, string> = {
  QWIET_BASE_URL: 'the Qwiet API v4 base URL, e.g. https://app.shiftleft.io/api/v4',
  QWIET_ORG_TOKENS: 'JSON {"<org uuid>": "<access token>"}',
  OCTANE_BASE_URL: 'the ALM Octane server root, e.g. https://almoctane-eur.saas.microfocus.com',
  OCTANE_CREDENTIALS: 'JSON {"<shared space id>": {"client_id": "...", "client_secret": "..."}}',
  POLICY_FILE: 'the token policy, a YAML file',
  AUDIT_HMAC_KEY: 'the deployment key of fingerprints and the head MAC, 32+ characters',
  DATABASE_URL:
    'the PostgreSQL store of the audit ledger, quotas and inventory, postgres://user:password@host:5432/database',
};

/** The console's sign-in: a client with the issuer, https outside loopback, sane timeouts. */
function signInProblems(env: Record<string, string | undefined>, problems: string[]): void {
  if (env.OIDC_ISSUER) {
    if (!env.OIDC_CLIENT_ID) problems.push('OIDC_ISSUER needs OIDC_CLIENT_ID');
    if (!env.OIDC_CLIENT_SECRET) problems.push('OIDC_ISSUER needs OIDC_CLIENT_SECRET');
  } else {
    for (const name of ['OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_REDIRECT_URL'])
      if (env[name]) problems.push(`${name} is set without OIDC_ISSUER`);
  }
  for (const name of ['OIDC_ISSUER', 'OIDC_REDIRECT_URL']) {
    const value = env[name];
    if (!value) continue;
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      continue; // named by the URL check
    }
    if (url.protocol === 'http:' && !isLoopbackUrl(url))
      problems.push(`${name} must be https (plain http only on loopback, for development)`);
  }
  if (
    env.OIDC_REDIRECT_URL &&
    !/\/auth\/callback$/.test(new URL(env.OIDC_REDIRECT_URL, 'http://x').pathname)
  )
    problems.push("OIDC_REDIRECT_URL must end in /auth/callback (the gateway's callback route)");
  const idle = Number(env.SESSION_IDLE_SECONDS ?? DEFAULT_IDLE_SECONDS);
  const absolute = Number(env.SESSION_ABSOLUTE_SECONDS ?? DEFAULT_ABSOLUTE_SECONDS);
  if (idle > absolute)
    problems.push('SESSION_IDLE_SECONDS must not be longer than SESSION_ABSOLUTE_SECONDS');
}

/**
 * The smallest RECOVERY_AFTER_MS past two request deadlines (a request at the vendor, then the last
 * check of its lost answer): the outcome's write, at least.
 */
const RECOVERY_AFTER_MARGIN_MS = 1000;

/** RECOVERY_AFTER_MS and RECOVERY_INTERVAL (README "Crash recovery"); problems are pushed. */
function recoveryConfig(parsed: GatewayEnvironment, problems: string[]): GatewayConfig['recovery'] {
  const deadlineMs = parsed.UPSTREAM_DEADLINE_MS ?? 25_000;
  // The request's deadline and a minute more: a request in flight has surely ended by then.
  const afterMs = parsed.RECOVERY_AFTER_MS ?? deadlineMs + 60_000;
  const least = 2 * deadlineMs + RECOVERY_AFTER_MARGIN_MS;
  // (A negative or fractional value is refused above, by its decorators.)
  if (Number.isInteger(afterMs) && afterMs > 0 && afterMs < least)
    problems.push(
      `RECOVERY_AFTER_MS must be 0 (one instance) or at least 2 x UPSTREAM_DEADLINE_MS + ${RECOVERY_AFTER_MARGIN_MS} (${least}): what is still at the vendor is its instance's`,
    );
  const intervalMs = durationMs(parsed.RECOVERY_INTERVAL, 60_000);
  if (intervalMs !== 0 && (intervalMs < 100 || intervalMs > 86_400_000))
    problems.push('RECOVERY_INTERVAL must be off, 0, or from 100ms to 24h');
  return {
    // 0: one instance. What is open when it starts is the last run's; later, its own requests.
    afterMs: afterMs || deadlineMs + 60_000,
    atStartAfterMs: afterMs,
    intervalMs,
  };
}

export function loadGatewayConfig(rawEnv: NodeJS.ProcessEnv): GatewayConfig {
  // An empty variable means unset, as in most deployment tools.
  const env = Object.fromEntries(
    Object.entries(rawEnv).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = plainToInstance(GatewayEnvironment, env, { enableImplicitConversion: true });
  const missing = Object.keys(REQUIRED).filter((name) => env[name] === undefined);
  const problems = [
    ...missing.map((name) => `${name} is not set (${REQUIRED[name]})`),
    ...validateSync(parsed, { skipMissingProperties: false })
      .filter((e) => !missing.includes(e.property))
      .flatMap((e) =>
        Object.values(e.constraints ?? {}).map((m) =>
          m.startsWith(e.property) ? m : `${e.property}: ${m}`,
        ),
      ),
  ];
  const qwietTokens = orgTokens(
    env.QWIET_ORG_TOKENS && parseJson('QWIET_ORG_TOKENS', env.QWIET_ORG_TOKENS, problems),
    problems,
  );
  const spaces = octaneCredentials(
    env.OCTANE_CREDENTIALS && parseJson('OCTANE_CREDENTIALS', env.OCTANE_CREDENTIALS, problems),
    problems,
  );

  if (!env.AUTH_JWT_SECRET === !env.AUTH_JWKS_URL) {
    problems.push(
      'set exactly one of AUTH_JWT_SECRET (HS256) and AUTH_JWKS_URL (with AUTH_ISSUER and AUTH_AUDIENCE)',
    );
  }
  if (env.AUTH_JWKS_URL && (!env.AUTH_ISSUER || !env.AUTH_AUDIENCE)) {
    problems.push('AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE');
  }
  const trustProxy = parseTrustProxy(env.TRUST_PROXY, problems);
  signInProblems(env, problems);
  const notify = loadNotifyConfig(env, problems);
  const recovery = recoveryConfig(parsed, problems);
  const databaseProblem = env.DATABASE_URL && databaseUrlProblem(env.DATABASE_URL);
  if (databaseProblem) problems.push(databaseProblem);
  if (problems.length > 0) throw new ConfigError(problems);

  const claims = {
    teamClaim: parsed.AUTH_TEAM_CLAIM ?? 'team',
    rolesClaim: parsed.AUTH_ROLES_CLAIM ?? 'roles',
  };
  const issuerAudience = {
    issuer: parsed.AUTH_ISSUER || undefined,
    audience: parsed.AUTH_AUDIENCE || undefined,
  };
  return {
    http: {
      host: parsed.HOST ?? '127.0.0.1',
      port: parsed.PORT ?? 3000,
      bodyLimitBytes: byteSize(parsed.BODY_LIMIT ?? '64kb'),
      trustProxy,
    },
    signIn: {
      oidc: parsed.OIDC_ISSUER
        ? {
            issuer: parsed.OIDC_ISSUER,
            clientId: parsed.OIDC_CLIENT_ID as string,
            clientSecret: parsed.OIDC_CLIENT_SECRET as string,
            teamClaim: parsed.OIDC_TEAM_CLAIM ?? 'team',
            rolesClaim: parsed.OIDC_ROLES_CLAIM ?? 'roles',
            redirectUrl: parsed.OIDC_REDIRECT_URL,
            allowDevelopmentProvider: false,
          }
        : undefined,
      idleSeconds: parsed.SESSION_IDLE_SECONDS ?? DEFAULT_IDLE_SECONDS,
      absoluteSeconds: parsed.SESSION_ABSOLUTE_SECONDS ?? DEFAULT_ABSOLUTE_SECONDS,
    },
    auth: parsed.AUTH_JWKS_URL
      ? { mode: 'jwks', jwksUrl: parsed.AUTH_JWKS_URL, ...issuerAudience, ...claims }
      : { mode: 'hs256', secret: parsed.AUTH_JWT_SECRET as string, ...issuerAudience, ...claims },
    qwiet: { baseUrl: parsed.QWIET_BASE_URL, orgTokens: qwietTokens.tokens },
    qwietOwnTokenIds: qwietTokens.ids,
    octane: { baseUrl: parsed.OCTANE_BASE_URL, sharedSpaces: spaces },
    transport: {
      timeoutMs: parsed.UPSTREAM_TIMEOUT_MS ?? 10_000,
      maxSockets: parsed.UPSTREAM_MAX_SOCKETS ?? 64,
      getRetries: parsed.UPSTREAM_GET_RETRIES ?? 2,
      deadlineMs: parsed.UPSTREAM_DEADLINE_MS ?? 25_000,
      circuit: {
        errorThresholdPercentage: parsed.CIRCUIT_ERROR_PERCENT ?? 50,
        volumeThreshold: parsed.CIRCUIT_MIN_CALLS ?? 10,
        rollingWindowMs: 10_000,
        resetTimeoutMs: parsed.CIRCUIT_RESET_MS ?? 15_000,
      },
    },
    policyFile: parsed.POLICY_FILE,
    audit: {
      hmacKey: parsed.AUDIT_HMAC_KEY,
      stdout: parsed.AUDIT_STDOUT === 'on',
    },
    database: { url: parsed.DATABASE_URL },
    log: { level: parsed.LOG_LEVEL ?? 'info' },
    rateLimitPerMinute: parsed.RATE_LIMIT_PER_MINUTE ?? 600,
    health: { vendorCheckMs: parsed.HEALTH_VENDOR_CHECK_MS ?? 30_000 },
    lostAnswerWindowMs: parsed.LOST_ANSWER_WINDOW_MS ?? 300_000,
    reconcileIntervalMs: durationMs(parsed.RECONCILE_INTERVAL, 5 * 60_000),
    recovery,
    notify,
  };
}
