import http from 'node:http';
import https from 'node:https';
import axios, { AxiosInstance, AxiosRequestConfig, AxiosResponse } from 'axios';
import type { CircuitOptions } from './circuit';
import { nodeHttpAdapter } from './node-http.adapter';
import { toUpstreamError, UpstreamError, Vendor } from './upstream.errors';

export interface TransportOptions {
  timeoutMs: number;
  /** Sockets per vendor: bounds the concurrency Keygate puts on a vendor. */
  maxSockets: number;
  /** Extra attempts for idempotent reads; creates, updates and deletes are never retried. */
  getRetries: number;
  /** Everything done for one gateway request (retries, Octane re-sign-in and replay) ends by then. */
  deadlineMs: number;
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

type AxiosDefaultHeaders = AxiosInstance['defaults']['headers'];

const MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
const RETRY_STATUSES = new Set([502, 503, 504]);

/**
 * One vendor's HTTP: a hardened axios instance (relative URLs only, no redirects, keep-alive with a
 * socket cap, a timeout per attempt, no proxy) and the send loop that retries reads.
 */
export class VendorHttp {
  readonly client: AxiosInstance;

  constructor(
    readonly vendor: Vendor,
    baseURL: string,
    private readonly transport: TransportOptions,
  ) {
    const agentOptions = {
      keepAlive: true,
      maxSockets: transport.maxSockets,
      maxFreeSockets: transport.maxSockets,
    };
    this.client = axios.create({
      baseURL,
      timeout: transport.timeoutMs,
      allowAbsoluteUrls: false,
      maxRedirects: 0,
      proxy: false,
      maxContentLength: MAX_RESPONSE_BYTES,
      httpAgent: new http.Agent(agentOptions),
      httpsAgent: new https.Agent(agentOptions),
      headers: { Accept: 'application/json' },
      // Every HTTP status is an answer to pass on; only transport failures throw.
      validateStatus: () => true,
      adapter: nodeHttpAdapter,
    });
    // One flat set of default headers: axios's per-method header groups (common, get, post, ...)
    // are deep-merged into every request, about a fifth of its own time per call, for nothing
    // here (JSON bodies get their Content-Type from axios's request transform).
    this.client.defaults.headers = { Accept: 'application/json' } as unknown as AxiosDefaultHeaders;
  }

  /** The time by which everything done for one gateway request (retries, re-sign-in) must end. */
  deadline(): number {
    return Date.now() + this.transport.deadlineMs;
  }

  /**
   * Sends one vendor request. GETs are retried with jittered exponential backoff on connection
   * failures and 502/503/504; nothing else is retried (a repeated create issues two credentials).
   * No attempt runs past `deadline`.
   */
  async send(
    operation: string,
    config: AxiosRequestConfig,
    deadline: number,
    retries = this.transport.getRetries,
  ): Promise<AxiosResponse> {
    const attempts = config.method === 'GET' ? retries + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new UpstreamError(
          this.vendor,
          operation,
          'timeout',
          `${vendorName(this.vendor)} did not answer within the request deadline`,
        );
      }
      let response: AxiosResponse | undefined;
      let failure: UpstreamError | undefined;
      const started = process.hrtime.bigint();
      try {
        response = await this.client.request({
          ...config,
          timeout: Math.min(this.transport.timeoutMs, remaining),
        });
      } catch (error) {
        failure = toUpstreamError(error, this.vendor, operation);
      }
      this.transport.observe?.({
        vendor: this.vendor,
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

  /** Closes kept-alive sockets. */
  close(): void {
    (this.client.defaults.httpAgent as http.Agent | undefined)?.destroy();
    (this.client.defaults.httpsAgent as https.Agent | undefined)?.destroy();
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const vendorName = (vendor: Vendor) => (vendor === 'qwiet' ? 'Qwiet' : 'Octane');

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
