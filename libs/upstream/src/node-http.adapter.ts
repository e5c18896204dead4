import http from 'node:http';
import https from 'node:https';
import {
  Axios,
  AxiosAdapter,
  AxiosError,
  AxiosHeaders,
  AxiosResponse,
  InternalAxiosRequestConfig,
} from 'axios';

/**
 * axios's own URL building (base URL, relative-only, parameter encoding) from an instance with no
 * defaults: `axios.getUri` would merge the whole default config again on every call.
 */
const urlBuilder = new Axios({});

/**
 * A lean axios adapter on node:http (axios documents adapters as its extension point). It does
 * only what Keygate's vendor calls need: keep-alive agents, a timeout, a size cap, no redirects,
 * no proxies, no streams. axios still builds the URL, serialises the body and parses the answer.
 * Failures are AxiosErrors with the usual codes (ECONNABORTED, ECONNRESET, ...).
 *
 * `config.timeout` bounds the whole call from the moment it is made: time queued for one of the
 * agent's sockets, connecting, sending and reading the whole answer (not Node's idle-socket
 * timeout, which a vendor dripping a byte at a time never trips). When it fires the request and
 * its socket are destroyed, so a half-read socket never goes back to the keep-alive pool.
 */
export const nodeHttpAdapter: AxiosAdapter = (config: InternalAxiosRequestConfig) =>
  new Promise<AxiosResponse>((resolve, reject) => {
    const url = new URL(
      urlBuilder.getUri({
        baseURL: config.baseURL,
        url: config.url,
        params: config.params,
        paramsSerializer: config.paramsSerializer,
        allowAbsoluteUrls: config.allowAbsoluteUrls,
      }),
    );
    const secure = url.protocol === 'https:';
    const headers = config.headers.toJSON() as Record<string, string>;
    const body =
      typeof config.data === 'string' || Buffer.isBuffer(config.data) ? config.data : undefined;
    if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = () => {
      settled = true;
      if (timer) clearTimeout(timer);
    };
    const fail = (message: string, code: string, request?: unknown) => {
      if (settled) return;
      settle();
      reject(new AxiosError(message, code, config, request));
    };

    const req = (secure ? https : http).request(
      url,
      {
        method: (config.method ?? 'get').toUpperCase(),
        headers,
        agent: secure ? config.httpsAgent : config.httpAgent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const cap = config.maxContentLength ?? -1;
        const tooLarge = () => {
          req.destroy();
          fail(`maxContentLength size of ${cap} exceeded`, AxiosError.ERR_BAD_RESPONSE, req);
        };
        // A declared length over the cap is refused at once, before a byte of the body is read.
        if (cap > -1 && Number(res.headers['content-length']) > cap) return tooLarge();
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (cap > -1 && size > cap) return tooLarge();
          chunks.push(chunk);
        });
        res.on('error', (error: NodeJS.ErrnoException) =>
          fail(error.message, error.code ?? AxiosError.ERR_NETWORK, req),
        );
        res.on('end', () => {
          if (settled) return;
          settle();
          resolve({
            data: Buffer.concat(chunks).toString('utf8'),
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            headers: AxiosHeaders.from(res.headers as Record<string, string>),
            config,
            request: req,
          });
        });
      },
    );
    if (config.timeout) {
      timer = setTimeout(() => {
        fail(`timeout of ${config.timeout}ms exceeded`, AxiosError.ECONNABORTED, req);
        // Queued: the request leaves the agent's queue. Connected: its socket is destroyed.
        req.destroy();
      }, config.timeout);
    }
    req.on('error', (error: NodeJS.ErrnoException) =>
      fail(error.message, error.code ?? AxiosError.ERR_NETWORK, req),
    );
    req.end(body);
  });
