/**
 * Helpers of the yum plugin tests: the engine CLI on a temp data dir, dnf on a temp installroot
 * (never touching the system), a tiny static HTTP server (follows symlinks, like `serve`), and
 * generated comps / modulemd / erratum fixtures.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PublishConduit, Unit, UnitCriteria } from '../../src/engine/contract.js';
import { FIXTURES_BUILD, ROOT, runCli, spawnCli, tempDir } from './cli.js';

export const RPMS = path.join(FIXTURES_BUILD, 'rpms');

/**
 * Options every test's dnf gets, so that it writes nothing outside its installroot: Debian's
 * dnf-plugins-core enables the `local` plugin, which copies every package a transaction installs
 * into the host's /var/lib/dnf/plugins/local and runs createrepo_c there.
 */
export const DNF_LEAVE_HOST = ['--disableplugin=local'];

export interface Matrix {
  packages: Record<string, { file: string; key: string | null }>;
  install: Record<string, { file: string; nevra: string; key: string | null }>;
  keys?: Record<string, unknown>;
}

export function matrix(): Matrix {
  return JSON.parse(readFileSync(path.join(RPMS, 'matrix.json'), 'utf8')) as Matrix;
}

export function sha256File(p: string): string {
  return createHash('sha256').update(readFileSync(p)).digest('hex');
}

/** The CLI on one data dir; throws with stdout/stderr on a non-zero exit unless `allowFail`. */
export class Engine {
  readonly dataDir: string;
  constructor(dataDir = tempDir('stagepush-yum-')) {
    this.dataDir = dataDir;
  }
  get publishRoot(): string {
    return path.join(this.dataDir, 'published');
  }
  run(args: string[], opts: { allowFail?: boolean; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
    const r = runCli(['--data-dir', this.dataDir, ...args], { env: { STAGEPUSH_CONFIG: path.join(this.dataDir, 'no-config.yaml'), ...opts.env } });
    if (!opts.allowFail && r.status !== 0) throw new Error(`stagepush ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  }
  json<T = any>(args: string[]): T {
    const r = this.run([...args, '--json']);
    return JSON.parse(r.stdout) as T;
  }
}

export interface DnfResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** dnf on a temp installroot with only our repository enabled. */
export class Dnf {
  readonly root: string;
  constructor(
    readonly baseurl: string,
    readonly extra: string[] = [],
  ) {
    this.root = tempDir('stagepush-dnf-');
  }
  run(args: string[]): DnfResult {
    const r = spawnSync(
      'dnf',
      [
        '-y',
        `--installroot=${this.root}`,
        ...DNF_LEAVE_HOST,
        `--setopt=cachedir=${path.join(this.root, 'cache')}`,
        '--setopt=reposdir=/nonexistent',
        '--setopt=install_weak_deps=0',
        '--releasever=1',
        '--disablerepo=*',
        `--repofrompath=ours,${this.baseurl}`,
        '--enablerepo=ours',
        ...this.extra,
        ...args,
      ],
      { encoding: 'utf8', timeout: 300_000 },
    );
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  ok(args: string[]): string {
    const r = this.run(args);
    if (r.status !== 0) throw new Error(`dnf ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }
  /** NEVRA → hex checksum of every package (repoquery, decoded from dnf's (type, bytes) tuple). */
  packages(): Map<string, string> {
    // module_hotfixes: list every package, modular filtering aside (a default stream hides the
    // non-modular packages of the same name).
    const out = this.ok(['-q', '--setopt=ours.module_hotfixes=true', 'repoquery', '--qf', '%{name}-%{epoch}:%{version}-%{release}.%{arch}\t%{chksum}']);
    const py = spawnSync('python3', ['-c', 'import ast,sys\nfor l in sys.stdin:\n  l=l.rstrip("\\n")\n  if not l: continue\n  n,c=l.split("\\t",1)\n  print(n, ast.literal_eval(c)[1].hex())'], { input: out, encoding: 'utf8' });
    if (py.status !== 0) throw new Error(`cannot decode repoquery output: ${py.stderr}\n${out}`);
    const m = new Map<string, string>();
    for (const line of py.stdout.split('\n').filter(Boolean)) {
      const [n, c] = line.split(' ');
      m.set(n!, c!);
    }
    return m;
  }
}

const SERVER_JS = `
const http = require('node:http'), fs = require('node:fs'), path = require('node:path');
const root = process.argv[1], log = process.argv[2], delay = Number(process.argv[3] || 0);
function answer(req, res, u) {
  const p = path.join(root, path.normalize(u));
  let st;
  try { st = fs.statSync(p); } catch { st = null; }
  if (!p.startsWith(root) || !st || !st.isFile()) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-length': st.size });
  if (req.method === 'HEAD') res.end(); else fs.createReadStream(p).pipe(res);
}
const server = http.createServer((req, res) => {
  let u;
  try { u = decodeURIComponent(new URL(req.url || '/', 'http://x').pathname); } catch { res.writeHead(400).end(); return; }
  fs.appendFileSync(log, u + '\\n');
  if (delay && u.endsWith('.rpm')) setTimeout(() => answer(req, res, u), delay); else answer(req, res, u);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

/**
 * A static file server over a directory (symlinks followed) on 127.0.0.1, in a child process (the
 * tests block on spawnSync'd dnf). `requests()` lists the paths asked so far.
 */
export async function serveDir(root: string, opts: { rpmDelayMs?: number } = {}): Promise<{ url: string; close(): Promise<void>; requests(): string[] }> {
  const log = path.join(tempDir('stagepush-serve-'), 'requests.log');
  writeFileSync(log, '');
  const child = spawn(process.execPath, ['-e', SERVER_JS, path.resolve(root), log, String(opts.rpmDelayMs ?? 0)], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.on('exit', () => child.kill());
  const port = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(buf.trim());
    });
    child.on('exit', (code) => reject(new Error(`test server exited ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}

/** GET a URL: status code. */
export async function status(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

/** The comps of the bundled staging area (fixtures/staging/make-basic.sh writes it): group, category, environment, langpacks. */
export const COMPS_XML = readFileSync(path.join(ROOT, 'fixtures', 'staging', 'basic', 'rhel-9-for-x86_64-appstream-rpms', 'COMPS', 'comps.xml'), 'utf8');

export function modulemdYaml(helloNevra = 'hello-0:1.1-1.noarch'): string {
  return `---
document: modulemd
version: 2
data:
  name: greet
  stream: "1"
  version: 20240101000000
  context: c0ffee42
  arch: noarch
  summary: Greeting module
  description: >-
    A module that greets.
  license:
    module:
    - MIT
  profiles:
    default:
      rpms:
      - hello
  api:
    rpms:
    - hello
  artifacts:
    rpms:
    - ${helloNevra}
...
---
document: modulemd-defaults
version: 1
data:
  module: greet
  stream: "1"
  profiles:
    "1": [default]
...
`;
}

export function erratumYaml(opts: { id: string; type?: string; updated?: string; version?: string; title?: string; packages: Array<{ name: string; version: string; release: string; arch?: string; epoch?: string }> }): string {
  const pk = opts.packages
    .map(
      (p) => `      - name: ${p.name}
        epoch: "${p.epoch ?? '0'}"
        version: "${p.version}"
        release: "${p.release}"
        arch: ${p.arch ?? 'noarch'}
        filename: ${p.name}-${p.version}-${p.release}.${p.arch ?? 'noarch'}.rpm
        src: ${p.name}-${p.version}-${p.release}.src.rpm`,
    )
    .join('\n');
  return `id: ${opts.id}
type: ${opts.type ?? 'security'}
title: ${JSON.stringify(opts.title ?? `${opts.id} update`)}
description: An update
summary: An update
solution: Update the packages
severity: Important
from: release@example.com
rights: Copyright 2024
issued: "2024-01-02 03:04:05"
updated: "${opts.updated ?? '2024-01-03 03:04:05'}"
status: final
version: "${opts.version ?? '1'}"
release: "0"
pushcount: "1"
reboot_suggested: false
references:
  - href: https://bugzilla.example.com/1
    id: "1"
    title: bug one
    type: bugzilla
pkglist:
  - name: col1
    short: c1
    packages:
${pk}
`;
}

/** Write text fixtures into a temp dir; returns their paths by name. */
export function writeFixtures(files: Record<string, string>): Record<string, string> {
  const dir = tempDir('stagepush-yumfx-');
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) {
    const p = path.join(dir, name);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
    out[name] = p;
  }
  return out;
}

/** A PEM certificate made by openssl (for productid uploads). */
export function productCert(): string {
  const dir = tempDir('stagepush-pem-');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'productid.pem'), '-days', '1', '-subj', '/CN=stagepush-product-69'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return path.join(dir, 'productid.pem');
}

/**
 * FakeStore's publish conduit (test/helpers/fakeconduit.ts) filters by plain equality only: this
 * wrapper adds the `_id: {$in: [...]}` filter the yum distributor pages with.
 */
export function withIdFilter(c: PublishConduit): PublishConduit {
  const select = (criteria?: UnitCriteria): Unit[] => {
    const f = criteria?.filters as Record<string, any> | undefined;
    const ids: unknown[] | undefined = f?._id?.$in;
    if (!ids) return c.getUnits(criteria);
    const rest = { ...f };
    delete rest._id;
    const want = new Set(ids.map(String));
    return c.getUnits({ ...criteria, filters: rest }).filter((u) => want.has(String(u.id)));
  };
  return { ...c, getUnits: select, iterUnits: select, countUnits: (cr?: UnitCriteria) => select(cr).length } as PublishConduit;
}

/** `stagepush serve` on 127.0.0.1 (any free port) over an engine's publish root. */
export async function serveEngine(eng: Engine): Promise<{ url: string; close(): Promise<void> }> {
  const child = spawnCli(['--data-dir', eng.dataDir, 'serve', '--bind', '127.0.0.1', '--http', '0', '--no-access-log', '--publish-root', eng.publishRoot]);
  process.on('exit', () => child.kill());
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /^listening http \S+ \d+ (\S+)/m.exec(buf);
      if (m) resolve(m[1]!.replace(/\/+$/, ''));
    });
    child.on('exit', (code) => reject(new Error(`stagepush serve exited ${code}: ${err}`)));
  });
  return {
    url,
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
