import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { OctaneClient, QwietClient, UpstreamError } from '@app/upstream';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const quoted = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The token id a Qwiet token value names in its `jti` claim (read, not verified: it only protects). */
function jtiOf(token: string): string | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return typeof claims?.jti === 'string' && UUID.test(claims.jti)
      ? claims.jti.toLowerCase()
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Keygate's own vendor credentials: the Qwiet token of each org (its id as the operator names it
 * in QWIET_ORG_TOKENS, else from the token's `jti`)
 * and the Octane key of each shared space (found by its client_id, once). Nobody revokes or
 * regenerates them through Keygate, and only admins see them in lists.
 */
@Injectable()
export class OwnCredentials implements OnApplicationBootstrap {
  private readonly logger = new Logger('OwnCredentials');
  private readonly qwietIds = new Map<string, string | undefined>();
  private readonly octaneIds = new Map<string, string>();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly octane: OctaneClient,
    private readonly qwiet: QwietClient,
  ) {
    for (const [org, token] of Object.entries(config.qwiet.orgTokens))
      this.qwietIds.set(org, config.qwietOwnTokenIds[org] ?? jtiOf(token));
  }

  /**
   * The id a token claims (its jti) is a guess until Qwiet lists it in the org: checked once at
   * start; an id Qwiet does not list is dropped (then every unrecorded token counts as possibly
   * Keygate's own). A vendor that does not answer leaves the id as it is.
   */
  async onApplicationBootstrap(): Promise<void> {
    await Promise.all(
      [...this.qwietIds].map(async ([org, id]) => {
        if (id === undefined) return;
        try {
          const answer = await this.qwiet.listTokens(org, { show_expired: 'true' });
          const listed = (answer.body as { response?: { id?: unknown }[] }).response;
          if (answer.status !== 200 || !Array.isArray(listed)) return;
          if (listed.some((t) => String(t.id).toLowerCase() === id)) return;
          this.qwietIds.set(org, undefined);
          this.logger.warn(
            { org },
            "Qwiet does not list the token id Keygate's own token names: set token_id in QWIET_ORG_TOKENS",
          );
        } catch {
          // Unreachable now: the id stands (it protects; it grants nothing).
        }
      }),
    );
  }

  /**
   * Whether this Qwiet token may be Keygate's own: true for its own id, and, for an org whose
   * token names no id, for any token Keygate has no record of (it cannot tell them apart).
   */
  qwietToken(orgId: string, tokenId: string, recorded: boolean): boolean {
    const own = this.qwietIds.get(orgId.toLowerCase());
    return own === undefined ? !recorded : own === tokenId.toLowerCase();
  }

  /** Keygate's own Qwiet token id in an org, when its token names one. */
  qwietTokenId(orgId: string): string | undefined {
    return this.qwietIds.get(orgId.toLowerCase());
  }

  /** Keygate's own Octane key id in a shared space (asked of Octane once, by client_id). */
  async octaneKeyId(spaceId: string): Promise<string | undefined> {
    const known = this.octaneIds.get(spaceId);
    if (known !== undefined) return known;
    const clientId = this.config.octane.sharedSpaces[spaceId]?.clientId;
    if (clientId === undefined) return undefined;
    const answer = await this.octane.listApiAccesses(spaceId, {
      query: `"client_id EQ ${quoted(clientId)}"`,
      fields: 'client_id',
    });
    const id = (answer.body as { data?: { id?: unknown }[] }).data?.[0]?.id;
    if (answer.status !== 200 || typeof id !== 'string') {
      throw new UpstreamError(
        'octane',
        'octane.api_accesses.list',
        'bad_response',
        `Octane did not say which key is Keygate's own (status ${answer.status})`,
        answer.status,
      );
    }
    this.octaneIds.set(spaceId, id);
    return id;
  }

  /** A vendor list as a non-admin sees it: without Keygate's own credential. */
  static withoutOwn(body: unknown, key: 'response' | 'data', ownId: string | undefined): unknown {
    const list = (body as Record<string, unknown> | null)?.[key];
    if (ownId === undefined || !Array.isArray(list)) return body;
    const kept = list.filter(
      (e) => String((e as { id?: unknown }).id ?? '').toLowerCase() !== ownId.toLowerCase(),
    );
    const total = (body as { total_count?: unknown }).total_count;
    return {
      ...(body as object),
      [key]: kept,
      ...(typeof total === 'number' && { total_count: total - (list.length - kept.length) }),
    };
  }
}
