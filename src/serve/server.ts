/**
 * `stagepush serve`: a static server for the published trees. The HTTP listener serves
 * `<publishRoot>/http`, the HTTPS listener `<publishRoot>/https`, at `/<relative_url>/…`.
 *
 * GET and HEAD; content types by name; single byte ranges (206, 416; several ranges get the whole
 * file); strong ETags and Last-Modified with If-None-Match / If-Modified-Since (304) and If-Range;
 * directory listings (or 403 with `listing: false`); an access log in the combined format plus the
 * response time. Path safety in safepath.ts: every refusal is a 404.
 */
import { createReadStream, promises as fsp, readFileSync, type Stats } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { StagepushError } from '../errors.js';
import { RawEscapes } from './escapes.js';
import { ExportLinks } from './exports.js';
import { contentTypeOf } from './mime.js';
import { resolveRequest, type ServeRoots } from './safepath.js';

export interface ServeOptions {
  publishRoot: string;
  contentRoot: string;
  /**
   * The engine's `<data dir>/working`: the export distributors' records of the export directories
   * outside the publish root their links lead to (followed only then); unset, none is followed.
   */
  workingRoot?: string;
  bind?: string;
  /** HTTP port (0 = any free port); undefined = no HTTP listener. */
  httpPort?: number;
  https?: { port: number; cert: string; key: string };
  /** Directory listings (default true); false answers 403 for directories. */
  listing?: boolean;
  /** One line per request (combined log format + duration). */
  log?: (line: string) => void;
}

export interface Listener {
  protocol: 'http' | 'https';
  host: string;
  port: number;
  url: string;
  root: string;
}

export interface RunningServer {
  listeners: Listener[];
  /** Stop accepting, let requests in flight finish (at most `graceMs`), then close. */
  close(graceMs?: number): Promise<void>;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function clfDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function q(s: string | undefined): string {
  return s === undefined || s === '' ? '-' : s.replace(/["\\]/g, (c) => '\\' + c).replace(/[\0-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`); // eslint-disable-line no-control-regex
}

export function etagOf(st: Stats): string {
  return `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}-${st.ino.toString(16)}"`;
}

/**
 * Parse a single `bytes=` range against a size (RFC 9110 14.1.1): the range, 'unsatisfiable', or
 * null (ignore: send all). A last-pos before first-pos makes the header invalid (ignored); a
 * first-pos at or past the end, or a suffix of zero bytes, is unsatisfiable; a suffix longer than
 * the file is the whole file. An empty file has no satisfiable range at all: the RFC counts a
 * non-zero suffix as satisfiable there, but no Content-Range can describe zero bytes (a 206 said
 * `bytes 0--1/0`), so it gets a 416 as `bytes=0-` does (nginx does the same).
 */
export function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const m = /^bytes=\s*(.+)$/i.exec(header.trim());
  if (!m) return null;
  const parts = m[1]!.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length !== 1) return null;
  const r = /^(\d*)-(\d*)$/.exec(parts[0]!);
  if (!r || (r[1] === '' && r[2] === '')) return null;
  if (r[1] === '') {
    const n = Number(r[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(r[1]);
  let end = r[2] === '' ? size - 1 : Number(r[2]);
  if (r[2] !== '' && end < start) return null;
  if (start >= size) return 'unsatisfiable';
  end = Math.min(end, size - 1);
  return { start, end };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

async function listing(dir: string, segments: readonly string[], urlPath: string, treeRoot: string, roots: ServeRoots): Promise<string> {
  const names = (await fsp.readdir(dir)).sort();
  const rows: string[] = [];
  // The directory's request path with every segment encoded again: the decoded path (urlPath)
  // made a directory named "what?" a query and "50%off" a bad escape, so its entries were not
  // found and the listing was empty.
  const prefix = segments.map((s) => '/' + encodeURIComponent(s)).join('') + '/';
  for (const n of names) {
    let st: Stats;
    try {
      // Listed only what a request for it would serve.
      const r = await resolveRequest(prefix + encodeURIComponent(n), treeRoot, roots);
      if (r.kind === 'notfound') continue;
      st = await fsp.stat(r.realPath);
    } catch {
      continue;
    }
    const href = encodeURIComponent(n) + (st.isDirectory() ? '/' : '');
    rows.push(`<tr><td><a href="${href}">${escapeHtml(n)}${st.isDirectory() ? '/' : ''}</a></td><td>${st.isDirectory() ? '-' : st.size}</td><td>${st.mtime.toISOString()}</td></tr>`);
  }
  const title = escapeHtml(urlPath.endsWith('/') ? urlPath : urlPath + '/');
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Index of ${title}</title></head><body><h1>Index of ${title}</h1><table>${urlPath === '/' ? '' : '<tr><td><a href="../">../</a></td><td></td><td></td></tr>'}${rows.join('')}</table></body></html>\n`;
}

export function createHandler(treeRoot: string, roots: ServeRoots, opts: { listing: boolean; log?: (line: string) => void }): http.RequestListener {
  return (req, res) => {
    const started = process.hrtime.bigint();
    let bytes = 0;
    res.on('finish', () => {
      if (!opts.log) return;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const addr = req.socket.remoteAddress ?? '-';
      opts.log(`${addr} - - [${clfDate(new Date())}] "${q(req.method)} ${q(req.url)} HTTP/${req.httpVersion}" ${res.statusCode} ${bytes || '-'} "${q(req.headers.referer)}" "${q(req.headers['user-agent'])}" ${ms.toFixed(1)}ms`);
    });
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      const buf = Buffer.from(body);
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(buf.length), ...headers });
      if (req.method === 'HEAD') res.end();
      else {
        bytes = buf.length;
        res.end(buf);
      }
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    void (async () => {
      const r = await resolveRequest(req.url ?? '/', treeRoot, roots);
      if (r.kind === 'notfound') return send(404, 'not found\n');
      if (r.kind === 'dir') {
        const rawPath = (req.url ?? '/').split('?')[0]!;
        if (!rawPath.endsWith('/')) return send(301, 'moved\n', { Location: rawPath + '/' });
        if (!opts.listing) return send(403, 'directory listing disabled\n');
        const html = await listing(r.realPath, r.segments, r.urlPath, treeRoot, roots);
        return send(200, html, { 'Content-Type': 'text/html; charset=utf-8' });
      }
      const st = await fsp.stat(r.realPath);
      const etag = etagOf(st);
      const lastModified = new Date(Math.floor(st.mtimeMs / 1000) * 1000).toUTCString();
      const base: Record<string, string> = {
        'Content-Type': contentTypeOf(r.segments[r.segments.length - 1] ?? ''),
        ETag: etag,
        'Last-Modified': lastModified,
        'Accept-Ranges': 'bytes',
      };
      const inm = req.headers['if-none-match'];
      const ims = req.headers['if-modified-since'];
      let notModified = false;
      if (inm !== undefined) {
        notModified = inm.trim() === '*' || inm.split(',').map((s) => s.trim().replace(/^W\//, '')).includes(etag);
      } else if (ims !== undefined) {
        const t = Date.parse(ims);
        notModified = !Number.isNaN(t) && Math.floor(st.mtimeMs / 1000) * 1000 <= t;
      }
      if (notModified) {
        res.writeHead(304, { ETag: etag, 'Last-Modified': lastModified });
        return res.end();
      }
      let range: ReturnType<typeof parseRange> = null;
      const rh = req.headers.range;
      if (rh !== undefined) {
        const raw = req.headers['if-range'];
        const ifRange = (Array.isArray(raw) ? raw[0] : raw)?.trim();
        const rangeOk = ifRange === undefined || ifRange === etag || (!ifRange.startsWith('"') && !ifRange.startsWith('W/') && Date.parse(ifRange) >= Math.floor(st.mtimeMs / 1000) * 1000);
        if (rangeOk) range = parseRange(rh, st.size);
      }
      if (range === 'unsatisfiable') return send(416, 'range not satisfiable\n', { 'Content-Range': `bytes */${st.size}` });
      const start = range ? range.start : 0;
      const end = range ? range.end : st.size - 1;
      const length = st.size === 0 ? 0 : end - start + 1;
      const headers: Record<string, string> = { ...base, 'Content-Length': String(length) };
      if (range) headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
      res.writeHead(range ? 206 : 200, headers);
      if (req.method === 'HEAD' || length === 0) return res.end();
      const stream = createReadStream(r.realPath, { start, end });
      stream.on('data', (c) => (bytes += (c as Buffer).length));
      stream.on('error', () => res.destroy());
      res.on('close', () => stream.destroy());
      stream.pipe(res);
    })().catch((e: unknown) => {
      if (!res.headersSent) send(500, 'internal error\n');
      else res.destroy();
      opts.log?.(`error: ${(e as Error)?.message ?? String(e)}`);
    });
  };
}

function listen(server: http.Server | https.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => reject(new StagepushError('SERVE_LISTEN_FAILED', `cannot listen on ${host}:${port}: ${e.code ?? e.message}`, { kind: 'failed', cause: e }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const host = opts.bind ?? '127.0.0.1';
  if (opts.httpPort === undefined && !opts.https) throw new StagepushError('SERVE_NO_LISTENER', 'give --http PORT and/or --https PORT', { kind: 'usage' });
  const publishRoot = path.resolve(opts.publishRoot);
  const realPublishRoot = await fsp.realpath(publishRoot).catch(() => publishRoot);
  const roots: ServeRoots = {
    publishRoot: realPublishRoot,
    store: await fsp.realpath(path.resolve(opts.contentRoot)).catch(() => path.resolve(opts.contentRoot)),
    exportLinks: opts.workingRoot !== undefined ? new ExportLinks(path.resolve(opts.workingRoot), realPublishRoot) : undefined,
    rawEscapes: new RawEscapes(path.join(realPublishRoot, '.versions')),
  };
  const servers: Array<http.Server | https.Server> = [];
  const listeners: Listener[] = [];
  const handlerFor = (proto: 'http' | 'https') => {
    const root = path.join(publishRoot, proto);
    return { root, handler: createHandler(path.join(roots.publishRoot, proto), roots, { listing: opts.listing ?? true, log: opts.log }) };
  };
  try {
    if (opts.httpPort !== undefined) {
      const { root, handler } = handlerFor('http');
      const s = http.createServer(handler);
      servers.push(s);
      const a = await listen(s, opts.httpPort, host);
      listeners.push({ protocol: 'http', host, port: a.port, url: `http://${urlHost(host)}:${a.port}/`, root });
    }
    if (opts.https) {
      const read = (f: string, flag: string) => {
        try {
          return readFileSync(f);
        } catch (e) {
          throw new StagepushError('SERVE_TLS_FILE', `${flag} ${f}: ${(e as NodeJS.ErrnoException).code ?? 'cannot read'}`, { kind: 'usage', file: f, field: flag, cause: e });
        }
      };
      const cert = read(opts.https.cert, '--cert');
      const key = read(opts.https.key, '--key');
      const { root, handler } = handlerFor('https');
      let s: https.Server;
      try {
        s = https.createServer({ cert, key }, handler);
      } catch (e) {
        throw new StagepushError('SERVE_TLS_FILE', `--cert/--key: ${(e as Error).message}`, { kind: 'usage', cause: e });
      }
      servers.push(s);
      const a = await listen(s, opts.https.port, host);
      listeners.push({ protocol: 'https', host, port: a.port, url: `https://${urlHost(host)}:${a.port}/`, root });
    }
  } catch (e) {
    for (const s of servers) s.close();
    throw e;
  }
  return {
    listeners,
    async close(graceMs = 5000) {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              const t = setTimeout(() => s.closeAllConnections(), graceMs);
              s.close(() => {
                clearTimeout(t);
                resolve();
              });
              s.closeIdleConnections();
            }),
        ),
      );
    },
  };
}
