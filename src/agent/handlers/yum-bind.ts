/**
 * Yum bind handler (distributor type yum_distributor). From the distributor's consumer payload
 * it writes one section per bound repository into `<root>/etc/yum.repos.d/stagepush.repo`
 * (configurable: `repo_file`, relative to the consumer root):
 *
 *   [<repo_id>]
 *   name=<repo_name>  (one line: control characters, newlines too, become spaces)
 *   baseurl=<one URL per protocol, https first>
 *   enabled=1
 *   gpgcheck=1 with gpgkey=file://… when the payload has GPG keys (written beside the repo file
 *            as stagepush-keys/<repo_id>/<key>.gpg), else gpgcheck=0
 *   sslcacert=<path>  when the payload has a CA certificate (stagepush-keys/<repo_id>/ca.pem);
 *   sslverify=<0|1>   from the handler configuration `ssl_verify` (default 1)
 *
 * Paths in the file are host paths (`<root>/…`), as dnf --installroot reads them. unbind
 * removes the section and its files (the file too when no section is left); clean does so for
 * every repository the consumer is bound to with this handler's type (then removes the
 * stagepush-keys directory when it is empty), and leaves every other section and file alone.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { assertInsideRoot } from './inside.js';
import { BindHandler, settingChecks, type Binding, type HandlerConduit, type HandlerOptions } from '../handler.js';
import { BindReport, CleanReport } from '../reports.js';
import { StagepushError } from '../../errors.js';

/** The yum distributor's consumer payload. */
export interface YumConsumerPayload {
  repo_id: string;
  repo_name?: string;
  server_name?: string;
  relative_path: string;
  protocols: string[];
  base_urls: { http?: string; https?: string };
  gpg_keys?: Record<string, string>;
  ca_cert?: string | null;
}

const SAFE = /[^A-Za-z0-9._-]/g;
/** Directory beside the repo file holding each bound repository's key and CA files. */
const FILES_DIR = 'stagepush-keys';

/** Control characters (a newline in a value would end it and start a forged line or section). */
const CONTROL = /\p{Cc}+/gu;

/**
 * A display name as one line: each run of control characters (newlines, tabs, …) becomes one
 * space. The name is only shown by dnf, so it is written rather than refused.
 */
export function oneLine(value: string): string {
  return value.replace(CONTROL, ' ').trim();
}

function checkPayload(p: unknown): YumConsumerPayload {
  const fail = (what: string): never => {
    throw new Error(`consumer payload from the distributor: ${what}`);
  };
  if (!p || typeof p !== 'object') return fail('not an object');
  const o = p as Record<string, unknown>;
  if (typeof o.repo_id !== 'string' || !o.repo_id) fail('repo_id missing');
  if (typeof o.relative_path !== 'string') fail('relative_path missing');
  if (!Array.isArray(o.protocols) || !o.protocols.every((x) => typeof x === 'string')) fail('protocols must be a list of strings');
  if (!o.base_urls || typeof o.base_urls !== 'object') fail('base_urls missing');
  if (o.gpg_keys !== undefined && o.gpg_keys !== null && typeof o.gpg_keys !== 'object') fail('gpg_keys must be an object');
  if (o.ca_cert !== undefined && o.ca_cert !== null && typeof o.ca_cert !== 'string') fail('ca_cert must be a string');
  // What makes the section header and baseurl must be written as given: refused, not changed.
  if (/[\p{Cc}[\]]/u.test(o.repo_id as string)) fail(`repo_id ${JSON.stringify(o.repo_id)} has a control character or a bracket`);
  if (/[\p{Cc}\s]/u.test(o.relative_path as string)) fail(`relative_path ${JSON.stringify(o.relative_path)} has a control character or a space`);
  for (const [proto, url] of Object.entries(o.base_urls as Record<string, unknown>)) {
    if (typeof url === 'string' && /[\p{Cc}\s]/u.test(url)) fail(`base_urls.${proto} ${JSON.stringify(url)} has a control character or a space`);
  }
  return o as unknown as YumConsumerPayload;
}

/** The repo file as ordered sections (other tools' sections in the same file are kept). */
interface RepoFile {
  header: string[];
  sections: Array<{ id: string; lines: string[] }>;
}

function readRepoFile(file: string): RepoFile {
  const out: RepoFile = { header: [], sections: [] };
  if (!existsSync(file)) return out;
  let cur: { id: string; lines: string[] } | null = null;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (m) {
      cur = { id: m[1]!.trim(), lines: [] };
      out.sections.push(cur);
    } else if (cur) cur.lines.push(line);
    else out.header.push(line);
  }
  return out;
}

function writeAtomic(file: string, text: string, mode = 0o644): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}

const OWN_COMMENT = '# Written by stagepush (consumer bind). Sections are replaced on bind and removed on unbind.';

function writeRepoFile(file: string, rf: RepoFile): void {
  // What precedes the first section (another tool's comments, in a repo file it shares) is kept;
  // our own comment line is written once. A file left with neither goes.
  const header = rf.header.filter((l) => l !== OWN_COMMENT);
  while (header.length && header[header.length - 1]!.trim() === '') header.pop();
  if (!rf.sections.length) {
    if (header.some((l) => l.trim() !== '')) writeAtomic(file, header.join('\n') + '\n');
    else rmSync(file, { force: true });
    return;
  }
  const parts: string[] = [...header, OWN_COMMENT];
  for (const s of rf.sections) {
    const body = [...s.lines];
    while (body.length && body[body.length - 1]!.trim() === '') body.pop();
    parts.push('', `[${s.id}]`, ...body);
  }
  writeAtomic(file, parts.join('\n') + '\n');
}

export class YumBindHandler extends BindHandler {
  static override readonly settings = { ssl_verify: settingChecks.boolean, repo_file: settingChecks.fileUnderRoot };

  /** Absolute host path of the repo file for this consumer. */
  repoFile(conduit: HandlerConduit): string {
    const rel = this.config.repo_file ?? '/etc/yum.repos.d/stagepush.repo';
    // Checked when the descriptor loaded; a configuration given otherwise (a subclass, a caller
    // making the handler) must not have the root itself written or its parent hold the key files.
    const wrong = settingChecks.fileUnderRoot(rel);
    if (wrong) throw new StagepushError('AGENT_HANDLER_BAD_SETTING', `repo_file: ${wrong}`, { field: 'repo_file' });
    const file = path.join(conduit.root, rel);
    assertInsideRoot(conduit.root, file, 'the repo file');
    return file;
  }

  /** The directory of one repository's key and CA files (or of every repository). */
  private filesDir(conduit: HandlerConduit, repoId?: string): string {
    const base = path.join(path.dirname(this.repoFile(conduit)), FILES_DIR);
    const dir = repoId === undefined ? base : path.join(base, repoId.replace(SAFE, '_'));
    // Written and removed recursively: never through a symlink out of the root.
    assertInsideRoot(conduit.root, dir, 'the key files directory');
    return dir;
  }

  bind(conduit: HandlerConduit, binding: Binding, options: HandlerOptions): BindReport {
    const payload = checkPayload(binding.details);
    const file = this.repoFile(conduit);
    const id = payload.repo_id;
    const dir = this.filesDir(conduit, id);
    const urls: string[] = [];
    for (const proto of ['https', 'http'] as const) {
      const base = payload.base_urls[proto];
      if (!payload.protocols.includes(proto) || !base) continue;
      urls.push(`${base.replace(/\/+$/, '')}/${payload.relative_path.replace(/^\/+/, '')}`.replace(/\/?$/, '/'));
    }
    for (const proto of payload.protocols) {
      const base = (payload.base_urls as Record<string, string | undefined>)[proto];
      if (proto !== 'https' && proto !== 'http' && base) urls.push(`${base.replace(/\/+$/, '')}/${payload.relative_path.replace(/^\/+/, '')}/`);
    }
    if (!urls.length) throw new Error(`consumer payload for ${id}: no base URL for any of the protocols ${JSON.stringify(payload.protocols)}`);

    // The repository's key and CA files, and its section.
    const files = new Map<string, string>();
    const keyFiles: string[] = [];
    for (const [name, armored] of Object.entries(payload.gpg_keys ?? {})) {
      const f = path.join(dir, `${name.replace(/\.(gpg|asc|key)$/i, '').replace(SAFE, '_')}.gpg`);
      files.set(f, armored.endsWith('\n') ? armored : armored + '\n');
      keyFiles.push(f);
    }
    const lines = [`name=${(payload.repo_name == null ? '' : oneLine(String(payload.repo_name))) || id}`, `baseurl=${urls.join(' ')}`, 'enabled=1'];
    if (keyFiles.length) lines.push('gpgcheck=1', `gpgkey=${keyFiles.map((f) => `file://${f}`).join(' ')}`);
    else lines.push('gpgcheck=0');
    let caFile: string | null = null;
    if (payload.ca_cert) {
      caFile = path.join(dir, 'ca.pem');
      files.set(caFile, payload.ca_cert.endsWith('\n') ? payload.ca_cert : payload.ca_cert + '\n');
      lines.push(`sslcacert=${caFile}`);
    }
    if (urls.some((u) => u.startsWith('https:'))) lines.push(`sslverify=${this.flag(options, 'ssl_verify', true) ? 1 : 0}`);
    const rf = readRepoFile(file);
    const existing = rf.sections.find((s) => s.id === id);
    const trimmed = (l: string[]) => l.join('\n').trimEnd();
    // Bound already, exactly so: nothing is written (a re-bind is not a change).
    const present = existsSync(dir) ? readdirSync(dir).map((n) => path.join(dir, n)) : [];
    const same = existing && trimmed(existing.lines) === trimmed(lines) && present.length === files.size && [...files].every(([f, text]) => existsSync(f) && readFileSync(f, 'utf8') === text);
    if (!same) {
      // Key and CA files of an earlier bind of this repository are replaced.
      rmSync(dir, { recursive: true, force: true });
      for (const [f, text] of files) writeAtomic(f, text);
      if (existing) existing.lines = lines;
      else rf.sections.push({ id, lines });
      writeRepoFile(file, rf);
    }
    conduit.log.info(`${same ? 'bound already' : 'bound'} ${id}: ${file} [${id}] baseurl ${urls.join(' ')}`);
    return new BindReport().setSucceeded({ repoId: id, repoFile: file, section: id, baseurl: urls, gpgkeys: keyFiles, sslcacert: caFile }, same ? 0 : 1);
  }

  unbind(conduit: HandlerConduit, repoId: string, _options: HandlerOptions): BindReport {
    const file = this.repoFile(conduit);
    const rf = readRepoFile(file);
    const before = rf.sections.length;
    rf.sections = rf.sections.filter((s) => s.id !== repoId);
    const keys = this.filesDir(conduit, repoId);
    const removedFiles = existsSync(keys) ? readdirSync(keys).map((n) => path.join(keys, n)) : [];
    rmSync(keys, { recursive: true, force: true });
    const removed = rf.sections.length !== before;
    if (removed) writeRepoFile(file, rf);
    conduit.log.info(`unbound ${repoId}: ${removed ? `section removed from ${file}` : `no section in ${file}`}`);
    return new BindReport().setSucceeded({ repoId, repoFile: file, sectionRemoved: removed, repoFileRemoved: removed && !rf.sections.length, filesRemoved: removedFiles }, removed ? 1 : 0);
  }

  clean(conduit: HandlerConduit, _options: HandlerOptions): CleanReport {
    // A root that is gone holds nothing to clean (the consumer can still be unregistered).
    if (!existsSync(conduit.root)) {
      conduit.log.info(`clean: the consumer root ${conduit.root} is gone; nothing to remove`);
      return new CleanReport().setSucceeded({ removed: [], root_missing: conduit.root }, 0);
    }
    // What this handler wrote for the consumer's bindings alone: the sections of its bound
    // repositories and their key files. repo_file may name a file the root holds anyway (another
    // tool's .repo file with its own sections, a file of /var), which clean must not remove whole.
    const file = this.repoFile(conduit);
    const repoIds = new Set(conduit.bindings().filter((b) => b.typeId === this.typeId).map((b) => b.repoId));
    const removed: string[] = [];
    const rf = readRepoFile(file);
    const kept = rf.sections.filter((s) => !repoIds.has(s.id));
    if (kept.length !== rf.sections.length) {
      removed.push(...rf.sections.filter((s) => repoIds.has(s.id)).map((s) => `${file} [${s.id}]`));
      rf.sections = kept;
      writeRepoFile(file, rf);
    }
    for (const id of repoIds) {
      const keys = this.filesDir(conduit, id);
      if (existsSync(keys)) {
        rmSync(keys, { recursive: true, force: true });
        removed.push(keys);
      }
    }
    // The handler's own directory of key files goes when nothing is left in it.
    const keys = this.filesDir(conduit);
    if (existsSync(keys) && lstatSync(keys).isDirectory() && readdirSync(keys).length === 0) rmdirSync(keys);
    conduit.log.info(`clean: removed ${removed.length ? removed.join(', ') : 'nothing'}`);
    return new CleanReport().setSucceeded({ repoFile: file, removed }, removed.length);
  }
}
