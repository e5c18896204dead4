import { Inject, Injectable, Logger } from '@nestjs/common';
import { AuthenticationError, callerFromClaims, type Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import { BaseClient, custom, errors, generators, Issuer } from 'openid-client';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import type { OidcConfig } from './sign-in.config';

/** Every call to the provider (discovery, JWKS, token) ends by then. */
const PROVIDER_TIMEOUT_MS = 5000;
/** Clock skew tolerated between Keygate and the provider in the ID token's iat/exp. */
const CLOCK_TOLERANCE_SECONDS = 30;

export interface SignInStart {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface SignedIn {
  caller: Caller;
}

/**
 * The console's OpenID Connect client (openid-client 5): the provider's discovery is read once
 * (again after a failure), the code flow with PKCE S256, state and nonce, the ID token validated
 * (signature by the provider's JWKS, iss, aud, exp, nonce). Errors never carry a token: the
 * library's RPError holds the ID token (`jwt`), so only fixed messages and the provider's error
 * code leave this class.
 */
@Injectable()
export class OidcSignIn {
  private readonly logger = new Logger('SignIn');
  private client?: Promise<BaseClient>;

  constructor(@Inject(GATEWAY_CONFIG) private readonly gateway: GatewayConfig) {}

  get config(): OidcConfig | undefined {
    return this.gateway.signIn.oidc;
  }

  /** The authorization URL to send the browser to, and the checks kept server-side. */
  async start(redirectUri: string): Promise<SignInStart> {
    const client = await this.discovered();
    const state = generators.state();
    const nonce = generators.nonce();
    const codeVerifier = generators.codeVerifier();
    const url = client.authorizationUrl({
      scope: 'openid profile',
      response_type: 'code',
      redirect_uri: redirectUri,
      code_challenge: generators.codeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url, state, nonce, codeVerifier };
  }

  /** Exchanges the code (with the verifier), validates the ID token, names the caller. */
  async finish(
    redirectUri: string,
    params: { code: string; state: string; iss?: string },
    checks: { state: string; nonce: string; codeVerifier: string },
  ): Promise<SignedIn> {
    const config = this.config as OidcConfig;
    const client = await this.discovered();
    let tokens;
    try {
      tokens = await client.callback(redirectUri, params, {
        state: checks.state,
        nonce: checks.nonce,
        code_verifier: checks.codeVerifier,
        response_type: 'code',
      });
    } catch (error) {
      throw this.refusal(error);
    }
    let claims: Record<string, unknown>;
    try {
      claims = tokens.claims() as Record<string, unknown>;
    } catch {
      throw failed('the provider answered without a valid ID token');
    }
    try {
      // The tokens go no further: only the caller they name is kept.
      return { caller: callerFromClaims(claims, config.teamClaim, config.rolesClaim) };
    } catch (error) {
      if (error instanceof AuthenticationError)
        throw failed(`the ID token does not name a caller: ${error.message}`);
      throw error;
    }
  }

  /**
   * The provider's RP-initiated logout URL, when its discovery has an end_session_endpoint: by
   * client_id, never id_token_hint (the browser carries this URL, and no token reaches it).
   */
  async endSessionUrl(postLogoutRedirectUri: string): Promise<string | undefined> {
    if (!this.config) return undefined;
    let client: BaseClient;
    try {
      client = await this.discovered();
    } catch {
      return undefined;
    }
    if (!client.issuer.metadata.end_session_endpoint) return undefined;
    return client.endSessionUrl({
      client_id: this.config.clientId,
      post_logout_redirect_uri: postLogoutRedirectUri,
    });
  }

  /** The client over the provider's discovery: read once, and again after a failure. */
  private discovered(): Promise<BaseClient> {
    const config = this.config;
    if (!config)
      return Promise.reject(
        new GatewayError(
          404,
          ErrorCode.NOT_FOUND,
          'console sign-in is not configured (OIDC_ISSUER)',
        ),
      );
    this.client ??= discover(config).catch((error: unknown) => {
      this.client = undefined;
      if (error instanceof DevelopmentProviderRefused) this.logger.error(error.message);
      else
        this.logger.warn(
          `the OpenID provider's discovery at ${config.issuer} failed: ${describe(error)}`,
        );
      throw new GatewayError(
        503,
        ErrorCode.SIGN_IN_UNAVAILABLE,
        'the identity provider cannot be reached: try again later',
      );
    });
    return this.client;
  }

  private refusal(error: unknown): GatewayError {
    if (error instanceof errors.OPError) {
      // The provider refused (invalid_grant: a code replayed, expired or not this verifier's).
      const code = /^[a-z_]{1,64}$/.test(error.error ?? '') ? error.error : 'error';
      return failed(`the identity provider refused the sign-in (${code})`);
    }
    if (error instanceof errors.RPError) {
      // Never error.message: it may quote claims; never error.jwt: it is the ID token.
      return failed('the identity provider’s answer did not pass validation (ID token or state)');
    }
    this.logger.warn(`the OpenID provider's token endpoint failed: ${describe(error)}`);
    return new GatewayError(
      503,
      ErrorCode.SIGN_IN_UNAVAILABLE,
      'the identity provider cannot be reached: try again later',
    );
  }
}

export const failed = (message: string) => new GatewayError(400, ErrorCode.SIGN_IN_FAILED, message);

/** The development provider (apps/dev-idp) says so in its discovery. */
export class DevelopmentProviderRefused extends Error {
  override readonly name = 'DevelopmentProviderRefused';
  constructor(issuer: string) {
    super(
      `OIDC_ISSUER ${issuer} is Keygate's development OpenID provider (its discovery says keygate_dev: true): ` +
        'production never signs in through it; set OIDC_ISSUER to the company identity provider',
    );
  }
}

/** Reads the provider's discovery; refuses the development provider unless allowed. */
export async function discoverIssuer(config: OidcConfig): Promise<Issuer<BaseClient>> {
  Issuer[custom.http_options] = () => ({ timeout: PROVIDER_TIMEOUT_MS });
  const issuer = await Issuer.discover(config.issuer);
  if (issuer.metadata.keygate_dev === true && !config.allowDevelopmentProvider)
    throw new DevelopmentProviderRefused(config.issuer);
  return issuer;
}

async function discover(config: OidcConfig): Promise<BaseClient> {
  const httpOptions = () => ({ timeout: PROVIDER_TIMEOUT_MS });
  const issuer = await discoverIssuer(config);
  const client = new issuer.Client({
    client_id: config.clientId,
    client_secret: config.clientSecret,
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  });
  client[custom.http_options] = httpOptions;
  client[custom.clock_tolerance] = CLOCK_TOLERANCE_SECONDS;
  return client;
}

/** A transport error's kind, never a body (which might quote a token). */
function describe(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  if (error instanceof errors.OPError) return `provider error ${error.error ?? ''}`.trim();
  if (error instanceof errors.RPError) return 'unexpected answer';
  return error instanceof Error ? error.name : 'unknown error';
}
