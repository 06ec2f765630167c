/**
 * Downloads for the yum sync: http(s) with undici (CA bundle, client certificate, proxy, timeouts,
 * retries with exponential backoff) and file:// feeds; streamed to disk with checksums computed
 * on the way; canceled through an AbortSignal.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp, writeSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type * as Undici from 'undici';
import type { Dispatcher, buildConnector } from 'undici';
import { StagepushError } from '../../errors.js';
import { streamGet } from '../common/httpget.js';

// undici is loaded on the first download, not with the plugin: importing it costs every CLI
// command (publish, repo list …) about 0.2 s of start-up CPU.
let undiciModule: typeof Undici | undefined;
const undici = (): typeof Undici => (undiciModule ??= createRequire(import.meta.url)('undici') as typeof Undici);

export interface DownloadOptions {
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  sslValidation?: boolean;
  proxyUrl?: string;
  proxyUsername?: string;
  proxyPassword?: string;
  /** Attempts after the first (default 3). */
  retries?: number;
  /** Seconds without progress before giving up (default 300). */
  timeout?: number;
  signal: AbortSignal;
}

export interface Downloaded {
  size: number;
  /** Hex digests of the bytes written, per algorithm asked. */
  digests: Record<string, string>;
}

export class Downloader {
  private readonly dispatcher: Dispatcher;
  readonly opts: DownloadOptions;
  bytes = 0;
  requests = 0;

  constructor(opts: DownloadOptions) {
    this.opts = opts;
    const tls = {
      ...(opts.caCert ? { ca: opts.caCert } : {}),
      ...(opts.clientCert ? { cert: opts.clientCert } : {}),
      ...(opts.clientKey ? { key: opts.clientKey } : {}),
      rejectUnauthorized: opts.sslValidation !== false,
    };
    const timeout = (opts.timeout ?? 300) * 1000;
    // Every connection's socket is watched for TLS alerts: a server refusing the handshake (no or
    // a bad client certificate) shows in undici only as "other side closed".
    const watch =
      (connect: buildConnector.connector): buildConnector.connector =>
      (o, cb) =>
        connect(o, (err, socket) => {
          if (socket) socket.on('error', (e: NodeJS.ErrnoException) => (isTlsError(e) ? (this.tlsAlert = e) : undefined));
          (cb as (e: Error | null, s: unknown) => void)(err, socket);
        });
    if (opts.proxyUrl) {
      const token = opts.proxyUsername ? `Basic ${Buffer.from(`${opts.proxyUsername}:${opts.proxyPassword ?? ''}`).toString('base64')}` : undefined;
      this.dispatcher = new (undici().ProxyAgent)({
        uri: opts.proxyUrl,
        token,
        requestTls: tls,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        factory: (origin: string | URL, o: object) => new (undici().Pool)(origin, { ...o, connect: watch((o as { connect: buildConnector.connector }).connect) }),
      });
    } else {
      this.dispatcher = new (undici().Agent)({ connect: watch(undici().buildConnector({ ...tls, timeout })), headersTimeout: timeout, bodyTimeout: timeout });
    }
  }

  /** The last TLS alert or verification error seen on a connection. */
  private tlsAlert: NodeJS.ErrnoException | null = null;

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => undefined);
  }

  /** Fetch a URL into memory (small files: repomd.xml). */
  async fetchBuffer(url: string): Promise<Buffer> {
    return this.withRetries(url, async () => {
      const u = new URL(url);
      if (u.protocol === 'file:') return fsp.readFile(fileURLToPath(u));
      const chunks: Buffer[] = [];
      await this.get(url, (c) => chunks.push(c));
      const buf = Buffer.concat(chunks);
      this.bytes += buf.length;
      return buf;
    });
  }

  /** Fetch a URL to `dest` computing digests; a checksum/size mismatch is retried then fails. */
  async fetchFile(url: string, dest: string, algos: string[], expect?: { algo: string; hex: string; size?: number }): Promise<Downloaded> {
    return this.withRetries(url, async () => {
      const hashes = new Map(algos.map((a) => [a, createHash(a)]));
      if (expect && !hashes.has(expect.algo)) hashes.set(expect.algo, createHash(expect.algo));
      let size = 0;
      const take = (chunk: Buffer): void => {
        size += chunk.length;
        for (const h of hashes.values()) h.update(chunk);
      };
      const u = new URL(url);
      if (u.protocol === 'file:') {
        const tap = new Transform({
          transform(chunk: Buffer, _e, cb) {
            take(chunk);
            cb(null, chunk);
          },
        });
        await pipeline(createReadStream(fileURLToPath(u), { signal: this.opts.signal }), tap, createWriteStream(dest), { signal: this.opts.signal });
      } else {
        // Written synchronously as each chunk arrives: see ../common/httpget.ts for why the
        // response body is not a stream here.
        const out = await fsp.open(dest, 'w');
        try {
          await this.get(url, (chunk) => {
            take(chunk);
            writeAll(out.fd, chunk);
          });
        } finally {
          await out.close();
        }
      }
      this.bytes += size;
      const digests: Record<string, string> = {};
      for (const [a, h] of hashes) digests[a] = h.digest('hex');
      if (expect) {
        if (expect.size !== undefined && expect.size !== size) throw new ChecksumError(`size ${size} differs from the expected ${expect.size}`);
        if (digests[expect.algo] !== expect.hex.toLowerCase()) throw new ChecksumError(`${expect.algo} ${digests[expect.algo]} differs from the expected ${expect.hex}`);
      }
      return { size, digests };
    });
  }

  /** GET a URL, handing the body of a 200 response to `onChunk`; another status is an error (retried when transient). */
  private async get(url: string, onChunk: (chunk: Buffer) => void): Promise<void> {
    this.requests++;
    const status = await streamGet(this.dispatcher, url, { signal: this.opts.signal, maxRedirections: 5, onChunk });
    if (status !== 200) {
      const msg = `HTTP ${status}`;
      if (status >= 500 || status === 429 || status === 408) throw new RetryableError(msg);
      throw new StagepushError('YUM_DOWNLOAD_FAILED', `${url}: ${msg}`, { kind: 'failed', file: url });
    }
  }

  private async withRetries<T>(url: string, fn: () => Promise<T>): Promise<T> {
    const retries = this.opts.retries ?? 3;
    let last: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (this.opts.signal.aborted) throw canceledError();
      try {
        return await fn();
      } catch (e) {
        if (this.opts.signal.aborted) throw canceledError();
        if (e instanceof StagepushError) throw e;
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StagepushError('YUM_DOWNLOAD_FAILED', `${url}: no such file`, { kind: 'failed', file: url, cause: e });
        const tlsError = this.tlsProblem(url, e);
        if (tlsError) throw tlsError;
        last = e;
        if (attempt < retries) await sleep(Math.min(8000, 250 * 2 ** attempt), this.opts.signal);
      }
    }
    const code = last instanceof ChecksumError ? 'YUM_CHECKSUM_MISMATCH' : 'YUM_DOWNLOAD_FAILED';
    const closed = url.startsWith('https:') && ['UND_ERR_SOCKET', 'ECONNRESET'].includes((last as NodeJS.ErrnoException)?.code ?? '');
    throw new StagepushError(code, `${url}: ${(last as Error)?.message ?? String(last)} (after ${retries + 1} attempts)`, {
      kind: 'failed',
      file: url,
      cause: last,
      hint: closed ? `the server closed the connection before answering: if it requires a client certificate, check "ssl_client_cert" and "ssl_client_key"${this.opts.proxyUrl ? ', and the proxy' : ''}` : undefined,
    });
  }

  /**
   * A TLS failure (not retried): the server certificate not trusted (hint: ssl_ca_cert, or
   * ssl_validation=false), or the handshake refused by the server (hint: ssl_client_cert/key).
   */
  private tlsProblem(url: string, e: unknown): StagepushError | null {
    if (!url.startsWith('https:')) return null;
    const err = e as NodeJS.ErrnoException;
    if (err?.code && CERT_VERIFY_CODES.has(err.code)) {
      return new StagepushError('YUM_TLS_FAILED', `${url}: the server certificate is not trusted (${err.code}: ${err.message}); set "ssl_ca_cert" to the CA certificate that signed it${this.opts.caCert ? ' (the configured ssl_ca_cert did not)' : ''}`, {
        kind: 'failed',
        file: url,
        field: 'ssl_ca_cert',
        hint: 'ssl_ca_cert=/path/to/ca.pem (PEM), or ssl_validation=false to skip the check',
        cause: e,
      });
    }
    const alert = isTlsError(err) ? err : err?.code === 'UND_ERR_SOCKET' || err?.code === 'ECONNRESET' ? this.tlsAlert : null;
    if (!alert) return null;
    const refused = /CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|ACCESS_DENIED|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE/.test(alert.code ?? '');
    const client = refused ? (this.opts.clientCert ? ' (the configured ssl_client_cert was not accepted)' : '; set "ssl_client_cert" and "ssl_client_key"') : '';
    return new StagepushError('YUM_TLS_FAILED', `${url}: the TLS handshake failed (${alert.code}: ${alert.message.split('\n')[0]})${refused ? `: the server refused the client certificate${client}` : ''}`, {
      kind: 'failed',
      file: url,
      field: refused ? 'ssl_client_cert' : undefined,
      hint: refused ? 'ssl_client_cert=/path/to/cert.pem ssl_client_key=/path/to/key.pem (PEM)' : undefined,
      cause: e,
    });
  }
}

/** Write the whole chunk at the file's current position (writeSync may write less than asked). */
function writeAll(fd: number, chunk: Buffer): void {
  for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
}

export class RetryableError extends Error {}
/** The downloaded bytes do not match the size or checksum the metadata gives. */
export class ChecksumError extends RetryableError {}

const CERT_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function isTlsError(e: NodeJS.ErrnoException | null | undefined): boolean {
  return !!e?.code && (e.code.startsWith('ERR_SSL_') || CERT_VERIFY_CODES.has(e.code));
}

export function canceledError(): StagepushError {
  return new StagepushError('YUM_SYNC_CANCELED', 'sync canceled', { kind: 'interrupted' });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(canceledError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Join a feed URL and a relative location (`repodata/…`, `Packages/…`). */
export function joinUrl(base: string, rel: string, xmlBase?: string | null): string {
  const b = new URL(xmlBase ? xmlBase : base);
  // A query string of the base (an access token a CDN wants on every request, as dnf sends it with
  // each file of a baseurl that has one) goes with every file under it, after the file's path.
  const query = b.search;
  b.search = '';
  b.hash = '';
  if (!b.pathname.endsWith('/')) b.pathname += '/';
  const u = new URL(rel.split('/').map(encodeURIComponent).join('/'), b);
  if (query && !u.search) u.search = query;
  return u.toString();
}

/** Run `fn` over items with at most `limit` at once; stops at the first error (the others finish). */
export async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async (): Promise<void> => {
    while (failed === null && next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (e) {
        if (failed === null) failed = e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== null) throw failed;
}
