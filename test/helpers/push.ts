/**
 * Push test helpers: staging areas built by code in temp dirs from the RPMs, keys and productid
 * certificate that fixtures/staging/build.sh makes (FIXTURES_BUILD/staging).
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import YAML from 'yaml';
import { FIXTURES_BUILD, ROOT, runCli, tempDir } from './cli.js';

export const STAGING_BUILD = path.join(FIXTURES_BUILD, 'staging');
export const RPMS = path.join(STAGING_BUILD, 'rpms');

export function keyIds(): { A: string; B: string } {
  const t = readFileSync(path.join(STAGING_BUILD, 'keyids'), 'utf8');
  const m = Object.fromEntries(t.trim().split('\n').map((l) => l.split('=') as [string, string]));
  return { A: m.A!, B: m.B! };
}

export const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

function put(file: string, content: string | Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
}

/** The committed demo area (fixtures/staging/make-demo.sh writes it): its advisory, comps and modules serve the tests too. */
const DEMO_EL9 = path.join(ROOT, 'fixtures', 'staging', 'demo', 'demo-el9');
export const COMPS = readFileSync(path.join(DEMO_EL9, 'COMPS', 'comps.xml'), 'utf8');
export const MODULES = readFileSync(path.join(DEMO_EL9, 'MODULEMD', 'modules.yaml'), 'utf8');

/** The demo advisory (DEMO-2026:0001, demo-hello 1.1) under another id, with changes. */
export function erratumYaml(id: string, o: { version?: string; updated?: string; title?: string; pkgs?: Array<{ name: string; version: string; file: string }> } = {}): string {
  const e = YAML.parse(readFileSync(path.join(DEMO_EL9, 'ERRATA', 'DEMO-2026-0001.yaml'), 'utf8')) as Record<string, unknown> & { pkglist: Array<{ packages: unknown[] }> };
  e.id = id;
  e.references = [{ href: `https://stagepush.invalid/${id}`, id, title: id, type: 'self' }];
  if (o.title !== undefined) e.title = o.title;
  if (o.updated !== undefined) e.updated = o.updated;
  if (o.version !== undefined) e.version = o.version;
  if (o.pkgs) {
    e.pkglist[0]!.packages = o.pkgs.map((p) => ({ name: p.name, epoch: '0', version: p.version, release: '1', arch: 'noarch', src: `${p.name}-${p.version}-1.src.rpm`, filename: p.file }));
  }
  // Every string quoted: a plain 2026-01-15 00:00:00 would read back as a YAML 1.1 timestamp.
  return YAML.stringify(e, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' });
}

export interface Area {
  root: string;
  files: Record<string, Buffer>;
}

/**
 * A staging area with every item type across several destinations:
 *   el9 (yum): RPMs, SRPM, erratum, comps, modulemd, productid, RAW tree, CGW
 *   files (file): two FILES with staged.yaml
 *   docs (directory): RAW only
 */
export function buildFullArea(root = path.join(tempDir('stagepush-area-'), 'area')): Area {
  const y = path.join(root, 'el9');
  for (const f of ['demo-hello-1.0-1.noarch.rpm', 'demo-hello-1.1-1.noarch.rpm', 'demo-tools-2.0-1.noarch.rpm']) copyFileSync(path.join(RPMS, f), put0(path.join(y, 'RPMS', f)));
  copyFileSync(path.join(RPMS, 'demo-hello-1.0-1.src.rpm'), put0(path.join(y, 'SRPMS', 'demo-hello-1.0-1.src.rpm')));
  put(path.join(y, 'ERRATA', 'DEMO-1.yaml'), erratumYaml('DEMO-2026:0001'));
  put(path.join(y, 'COMPS', 'comps.xml'), COMPS);
  put(path.join(y, 'MODULEMD', 'modules.yaml'), MODULES);
  copyFileSync(path.join(STAGING_BUILD, 'productid.pem'), put0(path.join(y, 'PRODUCTID', 'el9.pem')));
  put(path.join(y, 'RAW', '.treeinfo'), '[general]\nfamily = Demo\nversion = 9\n');
  put(path.join(y, 'RAW', 'images', 'boot.img'), Buffer.alloc(3000, 7));
  const files: Record<string, Buffer> = { 'readme.txt': Buffer.from('read me\n'), 'data.bin': Buffer.alloc(5000, 1) };
  for (const [n, b] of Object.entries(files)) put(path.join(root, 'files', 'FILES', n), b);
  put(path.join(root, 'docs', 'RAW', 'index.html'), '<p>docs</p>\n');
  put(path.join(root, 'docs', 'RAW', 'sub', 'page.txt'), 'page\n');
  writeStagedYaml(root, files);
  return { root, files };
}

function put0(file: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  return file;
}

export function writeStagedYaml(root: string, files: Record<string, Buffer>, overrides: Record<string, string> = {}): void {
  const entries = Object.entries(files).map(([n, b], i) =>
    [`    - relative_path: files/FILES/${n}`, `      sha256sum: ${overrides[n] ?? sha256(b)}`, '      version: "1.0"', `      order: ${i + 1}`, '      attributes:', `        description: file ${n}`].join('\n'),
  );
  put(path.join(root, 'staged.yaml'), `header:\n  version: "0.2"\npayload:\n  files:\n${entries.join('\n')}\n`);
}

/** A config file allowing the fixtures' key A (and unsigned when asked). */
export function writeConfig(dir: string, extra = ''): string {
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, `allowed_signing_keys: [${keyIds().A}]\n${extra}`);
  return file;
}

export function push(args: string[], env: { dataDir: string; config?: string }, opts: { input?: string } = {}) {
  return runCli(['--data-dir', env.dataDir, ...(env.config ? ['--config', env.config] : []), 'push', ...args], { env: { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: path.join(env.dataDir, 'no-xdg') }, input: opts.input });
}
