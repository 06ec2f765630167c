/**
 * Network helpers of the yum sync option tests, all in-process on 127.0.0.1: a PKI made by
 * openssl (a CA, a server certificate for 127.0.0.1, a client certificate), a static feed server
 * (http or https, optionally requiring a client certificate) that counts requests and concurrent
 * downloads and can fail, corrupt or hold responses on demand, and a forwarding proxy (absolute-URI
 * requests and CONNECT tunnels) counting what goes through it.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { tempDir } from './cli.js';

export interface Pki {
  dir: string;
  /** Paths of PEM files. */
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing we serve, and a client certificate it signed. */
  otherCaCert: string;
  otherClientCert: string;
  otherClientKey: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** A CA, a server certificate (127.0.0.1, localhost) and a client certificate it signed; EC keys (fast). */
export function makePki(): Pki {
  const dir = tempDir('stagepush-pki-');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'otherca']) {
    openssl(['req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=stagepush test ${ca}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  }
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  for (const [who, ca, ext] of [['server', 'ca', 'server'], ['client', 'ca', 'client'], ['otherclient', 'otherca', 'client']] as const) {
    openssl(['req', ...ec, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=stagepush test ${who}`], dir);
    openssl(['x509', '-req', '-in', `${who}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${who}.pem`, '-days', '2', '-extfile', `${ext}.ext`], dir);
  }
  const p = (f: string) => path.join(dir, f);
  return { dir, caCert: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key'), otherCaCert: p('otherca.pem'), otherClientCert: p('otherclient.pem'), otherClientKey: p('otherclient.key') };
}

export interface FeedServerOptions {
  tls?: { cert: string; key: string; ca?: string; requestCert?: boolean };
  /** Delay before answering a `.rpm` request. */
  rpmDelayMs?: number;
  /** "user:password": every request without these Basic credentials is answered 401. */
  basicAuth?: string;
  /** A query string ("token=…", as a CDN signs its URLs) every request must carry, else 403. */
  query?: string;
}

export interface FeedServer {
  url: string;
  /** Decoded paths of every request, in arrival order. */
  requests: string[];
  /** Delay before answering a `.rpm` request (may be changed between syncs). */
  rpmDelayMs: number;
  /** Highest number of `.rpm` responses in flight at once. */
  maxConcurrentRpms: number;
  /** Answer the next `n` requests of `urlPath` with HTTP `status`. */
  failNext(urlPath: string, n: number, status?: number): void;
  /** Never answer `urlPath` (the connection stays open) from now on. */
  hang(urlPath: string): void;
  /** Serve `urlPath` with its bytes altered (same size) from now on. */
  corrupt(urlPath: string): void;
  /** TLS connections refused (client certificate missing or bad). */
  tlsErrors: number;
  close(): Promise<void>;
}

/** A static server over `root` (http, or https with `opts.tls`) on 127.0.0.1. */
export async function startFeed(root: string, opts: FeedServerOptions = {}): Promise<FeedServer> {
  const fails = new Map<string, { n: number; status: number }>();
  const corrupted = new Set<string>();
  const hung = new Set<string>();
  let inflight = 0;
  const state: FeedServer = {
    url: '',
    requests: [],
    rpmDelayMs: opts.rpmDelayMs ?? 0,
    maxConcurrentRpms: 0,
    tlsErrors: 0,
    failNext(p, n, status = 503) {
      fails.set(p, { n, status });
    },
    corrupt(p) {
      corrupted.add(p);
    },
    hang(p) {
      hung.add(p);
    },
    close: async () => undefined,
  };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    let u: string;
    try {
      u = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    state.requests.push(u);
    if (opts.query !== undefined && new URL(req.url ?? '/', 'http://x').search !== `?${opts.query}`) {
      res.writeHead(403).end('no token');
      return;
    }
    if (opts.basicAuth !== undefined && req.headers.authorization !== `Basic ${Buffer.from(opts.basicAuth).toString('base64')}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="feed"' }).end();
      return;
    }
    if (hung.has(u)) return;
    const f = fails.get(u);
    if (f && f.n > 0) {
      f.n--;
      res.writeHead(f.status).end('try again');
      return;
    }
    const p = path.join(root, path.normalize(u));
    let size = -1;
    try {
      const st = statSync(p);
      if (st.isFile()) size = st.size;
    } catch {
      /* 404 below */
    }
    if (!p.startsWith(root) || size < 0) {
      res.writeHead(404).end();
      return;
    }
    const isRpm = u.endsWith('.rpm');
    const send = (): void => {
      res.writeHead(200, { 'content-length': size });
      if (corrupted.has(u)) {
        const buf = readFileSync(p);
        buf[buf.length - 1] ^= 0xff;
        res.end(buf);
      } else createReadStream(p).pipe(res);
    };
    if (isRpm) {
      inflight++;
      state.maxConcurrentRpms = Math.max(state.maxConcurrentRpms, inflight);
      res.on('close', () => inflight--);
      setTimeout(send, state.rpmDelayMs);
    } else send();
  };
  const server = opts.tls
    ? https.createServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key), ...(opts.tls.ca ? { ca: readFileSync(opts.tls.ca) } : {}), requestCert: !!opts.tls.requestCert, rejectUnauthorized: !!opts.tls.requestCert }, handler)
    : http.createServer(handler);
  server.on('tlsClientError', () => state.tlsErrors++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    });
  return state;
}

export interface ProxyServer {
  url: string;
  /** Absolute-URI requests forwarded (`GET http://…`). */
  forwarded: string[];
  /** CONNECT tunnels opened (`host:port`). */
  tunnels: string[];
  /** Proxy-Authorization headers seen (one per forwarded request or tunnel). */
  auth: Array<string | undefined>;
  close(): Promise<void>;
}

/** A forwarding HTTP proxy on 127.0.0.1: absolute-URI requests and CONNECT tunnels. */
export async function startProxy(opts: { requireAuth?: string } = {}): Promise<ProxyServer> {
  const state: ProxyServer = { url: '', forwarded: [], tunnels: [], auth: [], close: async () => undefined };
  const sockets = new Set<net.Socket>();
  const authorized = (h: string | undefined): boolean => !opts.requireAuth || h === `Basic ${Buffer.from(opts.requireAuth).toString('base64')}`;
  const server = http.createServer((req, res) => {
    state.forwarded.push(req.url ?? '');
    state.auth.push(req.headers['proxy-authorization']);
    if (!authorized(req.headers['proxy-authorization'])) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' }).end();
      return;
    }
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const up = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    state.tunnels.push(req.url ?? '');
    state.auth.push(req.headers['proxy-authorization']);
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (!authorized(req.headers['proxy-authorization'])) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    const up = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up);
    up.on('close', () => sockets.delete(up));
    up.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections?.();
      server.close(() => resolve());
    });
  return state;
}
