/**
 * Downloads for importers' syncs: http://, https:// (undici, with CA / client certificate / proxy)
 * and file:// (fs). Files are streamed to disk while hashed (sha256) and their size and checksum
 * checked; transient failures (network errors, 5xx, 429, a short body) are retried with backoff.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp, readFileSync, writeSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
import { StagepushError } from '../../errors.js';
import { streamGet } from './httpget.js';

export interface FetchOptions {
  /** PEM file of CA certificates to trust for https feeds. */
  caCert?: string;
  /** PEM client certificate and key files (TLS client authentication). */
  clientCert?: string;
  clientKey?: string;
  /** http(s) proxy URL. */
  proxyUrl?: string;
  /** Retries after the first attempt (default 3). */
  retries?: number;
  /** Base backoff delay in ms (doubled each retry; default 250). */
  backoffMs?: number;
  signal?: AbortSignal;
}

export interface Fetcher {
  getBuffer(url: string): Promise<Buffer>;
  /** Download to `dest` (created or truncated), checking size and sha256 when given. */
  download(url: string, dest: string, expect?: { sha256?: string; size?: number }): Promise<{ sha256: string; size: number }>;
  close(): Promise<void>;
}

const SCHEMES = ['http:', 'https:', 'file:'];

/** A message when `url` is not an absolute http(s)/file URL, else null. */
export function checkFeedUrl(url: unknown): string | null {
  if (typeof url !== 'string' || !url) return 'must be an http://, https:// or file:// URL';
  try {
    const u = new URL(url);
    if (!SCHEMES.includes(u.protocol)) return `"${url}": scheme ${u.protocol} is not supported (http://, https://, file://)`;
    return null;
  } catch {
    return `"${url}" is not a URL`;
  }
}

class Transient extends Error {}

/** Certificate problems: retrying cannot help. */
const TLS_CODES = /^(ERR_TLS_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|CERT_|ERR_SSL_)/;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

export function createFetcher(opts: FetchOptions = {}): Fetcher {
  const read = (f: string | undefined, key: string): string | undefined => {
    if (!f) return undefined;
    try {
      return readFileSync(f, 'utf8');
    } catch (e) {
      throw new StagepushError('FILE_SYNC_TLS_FILE', `config key "${key}": cannot read ${f} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { file: f, field: key, cause: e });
    }
  };
  const connect = { ca: read(opts.caCert, 'ssl_ca_cert'), cert: read(opts.clientCert, 'ssl_client_cert'), key: read(opts.clientKey, 'ssl_client_key') };
  let dispatcher: Dispatcher | undefined;
  // undici is loaded on the first http(s) request only (the CLI's start-up stays light).
  const undici = async () => import('undici');
  const getDispatcher = async (): Promise<Dispatcher> => {
    if (!dispatcher) {
      const { Agent, ProxyAgent } = await undici();
      dispatcher = opts.proxyUrl ? new ProxyAgent({ uri: opts.proxyUrl, requestTls: connect }) : new Agent({ connect });
    }
    return dispatcher;
  };
  const retries = opts.retries ?? 3;
  const backoff = opts.backoffMs ?? 250;
  const signal = opts.signal;

  /** A file:// URL's file as a stream. */
  async function openFile(url: string): Promise<NodeJS.ReadableStream> {
    const p = fileURLToPath(new URL(url));
    try {
      await fsp.access(p);
    } catch (e) {
      throw new StagepushError('FILE_SYNC_NOT_FOUND', `${url}: ${(e as NodeJS.ErrnoException).code ?? 'cannot read'}`, { file: p, kind: 'failed', cause: e });
    }
    return createReadStream(p, { signal });
  }

  /**
   * GET an http(s) URL, handing the body of a 200 response to `onChunk` as it arrives (written
   * synchronously by the caller: see ./httpget.ts for why the body is not a stream).
   */
  async function get(url: string, onChunk: (chunk: Buffer) => void): Promise<void> {
    let status: number;
    try {
      status = await streamGet(await getDispatcher(), url, { signal, maxRedirections: 5, onChunk });
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      if (e instanceof StagepushError) throw e;
      const cause = (e as { cause?: NodeJS.ErrnoException }).cause ?? (e as NodeJS.ErrnoException);
      const code = String(cause?.code ?? '');
      if (TLS_CODES.test(code)) {
        throw new StagepushError('FILE_SYNC_TLS_ERROR', `${url}: TLS: ${cause.message ?? code} (${code}); give the CA with ssl_ca_cert`, { kind: 'failed', file: url, field: 'ssl_ca_cert', cause: e });
      }
      throw new Transient(`${url}: ${(e as Error).message}${code ? ` (${code})` : ''}`);
    }
    if (status >= 500 || status === 429) throw new Transient(`${url}: HTTP ${status}`);
    if (status !== 200) throw new StagepushError('FILE_SYNC_HTTP_ERROR', `${url}: HTTP ${status}`, { kind: 'failed', file: url });
  }

  async function withRetries<T>(url: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        if (!(e instanceof Transient)) throw e;
        if (attempt >= retries) throw new StagepushError('FILE_SYNC_DOWNLOAD_FAILED', `${e.message} (after ${attempt + 1} attempts)`, { kind: 'failed', file: url, cause: e });
        await sleep(backoff * 2 ** attempt, signal);
      }
    }
  }

  return {
    getBuffer(url) {
      return withRetries(url, async () => {
        const chunks: Buffer[] = [];
        if (new URL(url).protocol !== 'file:') {
          await get(url, (c) => chunks.push(c));
          return Buffer.concat(chunks);
        }
        const body = await openFile(url);
        try {
          for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
        } catch (e) {
          if (signal?.aborted) throw signal.reason;
          throw new Transient(`${url}: ${(e as Error).message}`);
        }
        return Buffer.concat(chunks);
      });
    },
    download(url, dest, expect = {}) {
      return withRetries(url, async () => {
        const h = createHash('sha256');
        let size = 0;
        const take = (chunk: Buffer): void => {
          h.update(chunk);
          size += chunk.length;
          if (expect.size !== undefined && size > expect.size) throw new StagepushError('FILE_SYNC_SIZE_MISMATCH', `${url}: larger than the expected ${expect.size} bytes`, { kind: 'failed', file: url });
        };
        if (new URL(url).protocol !== 'file:') {
          const out = await fsp.open(dest, 'w');
          try {
            await get(url, (chunk) => {
              take(chunk);
              for (let off = 0; off < chunk.length; ) off += writeSync(out.fd, chunk, off, chunk.length - off);
            });
          } finally {
            await out.close();
          }
        } else {
          const body = await openFile(url);
          const tap = new Transform({
            transform(chunk: Buffer, _enc, cb) {
              try {
                take(chunk);
                cb(null, chunk);
              } catch (e) {
                cb(e as Error);
              }
            },
          });
          try {
            await pipeline(body, tap, createWriteStream(dest));
          } catch (e) {
            if (signal?.aborted) throw signal.reason;
            if (e instanceof StagepushError) throw e;
            throw new Transient(`${url}: ${(e as Error).message}`);
          }
        }
        if (expect.size !== undefined && size !== expect.size) throw new Transient(`${url}: got ${size} bytes, expected ${expect.size}`);
        const sha256 = h.digest('hex');
        if (expect.sha256 !== undefined && sha256 !== expect.sha256.toLowerCase()) {
          throw new StagepushError('FILE_SYNC_CHECKSUM_MISMATCH', `${url}: sha256 ${sha256} differs from the expected ${expect.sha256}`, { kind: 'failed', file: url });
        }
        return { sha256, size };
      });
    },
    async close() {
      if (dispatcher) await dispatcher.close();
    },
  };
}

/** Run `fn` over `items` with at most `limit` at a time; the first error stops the rest. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>, signal?: AbortSignal): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed: unknown = null;
  const worker = async (): Promise<void> => {
    while (failed === null) {
      if (signal?.aborted) throw signal.reason;
      const i = next++;
      if (i >= items.length) return;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failed = e;
        throw e;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  for (const r of results) if (r.status === 'rejected') throw failed ?? r.reason;
  return out;
}
