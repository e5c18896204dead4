import http from 'node:http';
import https from 'node:https';
import axios, { AxiosInstance, AxiosRequestConfig, AxiosResponse } from 'axios';
import type { CircuitOptions } from './circuit';
import { toUpstreamError, UpstreamError, Vendor } from './upstream.errors';

export interface TransportOptions {
  timeoutMs: number;
  /** Sockets per vendor: bounds the concurrency Keygate puts on a vendor. */
  maxSockets: number;
  /** Extra attempts for idempotent reads; creates, updates and deletes are never retried. */
  getRetries: number;
  circuit: CircuitOptions;
  /** Told of every vendor call: its operation, outcome (HTTP status or failure) and duration. */
  observe?: (call: VendorCall) => void;
}

export interface VendorCall {
  vendor: Vendor;
  operation: string;
  outcome: string;
  seconds: number;
}

/** What the vendor answered: passed to the caller unchanged. */
export interface VendorResponse {
  status: number;
  body: unknown;
}

const MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
const RETRY_STATUSES = new Set([502, 503, 504]);

/** One axios instance per vendor, hardened: relative URLs only, no redirects, keep-alive, timeout. */
export function createVendorHttp(baseURL: string, options: TransportOptions): AxiosInstance {
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets,
    maxFreeSockets: options.maxSockets,
  };
  return axios.create({
    baseURL,
    timeout: options.timeoutMs,
    allowAbsoluteUrls: false,
    maxRedirects: 0,
    proxy: false,
    maxContentLength: MAX_RESPONSE_BYTES,
    httpAgent: new http.Agent(agentOptions),
    httpsAgent: new https.Agent(agentOptions),
    headers: { Accept: 'application/json' },
    // Every HTTP status is an answer to pass on; only transport failures throw.
    validateStatus: () => true,
  });
}

export function closeAgents(client: AxiosInstance): void {
  (client.defaults.httpAgent as http.Agent | undefined)?.destroy();
  (client.defaults.httpsAgent as https.Agent | undefined)?.destroy();
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends one vendor request. GETs are retried with jittered exponential backoff on connection
 * failures and 502/503/504; nothing else is retried (a repeated create issues two credentials).
 */
export async function sendToVendor(
  client: AxiosInstance,
  vendor: Vendor,
  operation: string,
  config: AxiosRequestConfig,
  retries: number,
  observe?: (call: VendorCall) => void,
): Promise<AxiosResponse> {
  const attempts = config.method === 'GET' ? retries + 1 : 1;
  for (let attempt = 1; ; attempt++) {
    let response: AxiosResponse | undefined;
    let failure: UpstreamError | undefined;
    const started = process.hrtime.bigint();
    try {
      response = await client.request(config);
    } catch (error) {
      failure = toUpstreamError(error, vendor, operation);
    }
    observe?.({
      vendor,
      operation,
      outcome: failure ? failure.failure : String(response?.status),
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    });
    const retryable =
      failure?.failure === 'unreachable' ||
      (response !== undefined && RETRY_STATUSES.has(response.status));
    if (!retryable || attempt >= attempts) {
      if (failure) throw failure;
      return response as AxiosResponse;
    }
    await delay(25 * 2 ** attempt * (0.5 + Math.random()));
  }
}

const isJsonObject = (body: unknown): boolean => typeof body === 'object' && body !== null;

/** The vendor's answer as-is, provided it is the vendor's JSON; anything else is a bad gateway. */
export function vendorResponse(
  response: AxiosResponse,
  vendor: Vendor,
  operation: string,
): VendorResponse {
  if (!isJsonObject(response.data)) {
    throw new UpstreamError(
      vendor,
      operation,
      'bad_response',
      `${vendor === 'qwiet' ? 'Qwiet' : 'Octane'} answered ${response.status} without a JSON body`,
      response.status,
    );
  }
  return { status: response.status, body: response.data };
}

/** Joins path segments, each percent-encoded, refusing the dot segments that would climb the path. */
export function vendorPath(...segments: string[]): string {
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new Error(`invalid path segment ${JSON.stringify(segment)}`);
    }
  }
  return `/${segments.map(encodeURIComponent).join('/')}`;
}
