import type { AxiosRequestConfig, AxiosResponse } from 'axios';
import { UpstreamError } from './upstream.errors';
import type { VendorHttp } from './vendor-http';

export const SESSION_COOKIE = 'LWSSO_COOKIE_KEY';

export interface OctaneCredentials {
  clientId: string;
  clientSecret: string;
}

/**
 * One Octane session (per shared space): signs in with the API key, keeps every cookie the server
 * sets (including rotated LWSSO_COOKIE_KEY values), and on a 401 signs in again once and replays.
 * Concurrent requests that meet the same expired session share a single sign-in.
 */
export class OctaneSession {
  private readonly cookies = new Map<string, string>();
  private signingIn?: Promise<void>;
  signIns = 0;

  constructor(
    private readonly http: VendorHttp,
    private readonly credentials: OctaneCredentials,
  ) {}

  async request(operation: string, config: AxiosRequestConfig): Promise<AxiosResponse> {
    const deadline = this.http.deadline();
    if (!this.cookies.has(SESSION_COOKIE)) await this.signIn(undefined, operation, deadline);
    const sentWith = this.cookies.get(SESSION_COOKIE);
    let response = await this.send(operation, config, deadline);
    if (response.status !== 401) return response;
    await this.signIn(sentWith, operation, deadline);
    response = await this.send(operation, config, deadline);
    if (response.status === 401) {
      throw new UpstreamError(
        'octane',
        operation,
        'credentials_rejected',
        "Octane refused Keygate's session after a fresh sign-in",
        401,
      );
    }
    return response;
  }

  private async send(
    operation: string,
    config: AxiosRequestConfig,
    deadline: number,
  ): Promise<AxiosResponse> {
    const response = await this.http.send(
      operation,
      { ...config, headers: { ...config.headers, Cookie: this.cookieHeader() } },
      deadline,
    );
    this.absorb(response.headers['set-cookie']);
    return response;
  }

  /** Signs in unless another request already replaced the cookie that failed (`stale`). */
  private signIn(stale: string | undefined, operation: string, deadline: number): Promise<void> {
    if (this.signingIn) return this.signingIn;
    if (stale !== undefined && this.cookies.get(SESSION_COOKIE) !== stale) return Promise.resolve();
    this.signingIn = this.doSignIn(operation, deadline).finally(() => {
      this.signingIn = undefined;
    });
    return this.signingIn;
  }

  private async doSignIn(operation: string, deadline: number): Promise<void> {
    this.cookies.clear();
    this.signIns++;
    const credentials = {
      client_id: this.credentials.clientId,
      client_secret: this.credentials.clientSecret,
    };
    const response = await this.http.send(
      'octane.sign_in',
      { method: 'POST', url: '/authentication/sign_in', data: credentials },
      deadline,
      0,
    );
    this.absorb(response.headers['set-cookie']);
    if (response.status !== 200 || !this.cookies.has(SESSION_COOKIE)) {
      // 401/403: the key is wrong or revoked; anything else is Octane failing, not the key.
      const refused = response.status === 401 || response.status === 403;
      throw new UpstreamError(
        'octane',
        operation,
        refused ? 'credentials_rejected' : 'bad_response',
        refused
          ? `Octane refused Keygate's API key at sign-in (${response.status})`
          : `Octane failed at sign-in (${response.status})`,
        response.status,
      );
    }
  }

  /**
   * Whether Octane accepts these credentials now: signs in, and straight out again. False when
   * Octane refuses them (401/403); throws when its answer says nothing either way.
   */
  async accepted(): Promise<boolean> {
    const deadline = this.http.deadline();
    try {
      await this.doSignIn('octane.key_check', deadline);
    } catch (error) {
      if (error instanceof UpstreamError && error.failure === 'credentials_rejected') return false;
      throw error;
    }
    await this.http
      .send(
        'octane.sign_out',
        {
          method: 'POST',
          url: '/authentication/sign_out',
          headers: { Cookie: this.cookieHeader() },
        },
        deadline,
        0,
      )
      .catch(() => undefined);
    this.cookies.clear();
    return true;
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  private absorb(setCookie: string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (value === '' || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}
