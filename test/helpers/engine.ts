/**
 * Engine test helpers: a small plain-JavaScript directory plugin ("testplug": importer
 * test_importer, distributor test_distributor, types tfile/tnote) written into a temp plugins
 * dir, and a CLI runner bound to a data dir.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SpawnSyncReturns } from 'node:child_process';
import { runCli, spawnCli, tempDir } from './cli.js';

export const TEST_TYPES = [
  { id: 'tfile', displayName: 'Test file', unitKey: ['name', 'checksum'] },
  { id: 'tnote', displayName: 'Test note', unitKey: ['id'] },
];

export const TEST_IMPORTER_JS = String.raw`
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function gate(config, self, key = 'gate_file') { const g = config.get(key); while (g && !fs.existsSync(g) && !self.canceled) await sleep(50); }
function sha256(file) { return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'); }
function logHook(config, line) { const f = config.get('hook_log'); if (f) fs.appendFileSync(f, line + '\n'); }

class TestImporter {
  constructor() { this.canceled = false; }
  metadata() { return { id: 'test_importer', displayName: 'Test importer', types: ['tfile', 'tnote'] }; }
  validateConfig(repo, config, related) {
    if (config.get('fail_validation')) return { valid: false, message: 'fail_validation is set: ' + config.get('fail_validation') };
    const feed = config.get('feed');
    if (feed !== undefined && typeof feed !== 'string') return { valid: false, message: 'feed must be a directory path (string)' };
    if (config.get('unique_feed') && related.repos.some((r) => r.config.feed === feed)) return { valid: false, message: 'feed ' + feed + ' is already used by ' + related.repos.find((r) => r.config.feed === feed).id };
    return { valid: true };
  }
  importerAdded(repo, config) { if (config.get('fail_added_hook')) throw new Error('cannot set up'); fs.writeFileSync(path.join(repo.workingDir, 'added.json'), JSON.stringify({ repo: repo.id, level: config.get('level') })); logHook(config, 'importerAdded ' + repo.id + ' ' + repo.workingDir); }
  importerRemoved(repo, config) { logHook(config, 'importerRemoved ' + repo.id + ' ' + repo.workingDir); if (config.get('fail_removed_hook')) throw new Error('cannot clean up'); }
  detectType(filePath) { if (filePath.endsWith('.boom')) throw new Error('detectType exploded'); return filePath.endsWith('.note') ? 'tnote' : 'tfile'; }
  async syncRepo(repo, conduit, config) {
    const feed = config.get('feed');
    const slow = Number(config.get('slow_ms', 0));
    const names = fs.readdirSync(feed).sort();
    const seen = new Set();
    let i = 0;
    const stop = () => { fs.writeFileSync(path.join(repo.workingDir, 'stopped-by-cancel'), 'sync'); throw new Error('sync canceled'); };
    for (const name of names) {
      if (this.canceled) stop();
      const file = path.join(feed, name);
      const unit = conduit.initUnit('tfile', { name, checksum: sha256(file) }, { origin: 'sync' }, name);
      fs.copyFileSync(file, unit.storagePath);
      conduit.saveUnit(unit);
      seen.add(name);
      conduit.setProgress({ done: ++i, total: names.length, current: name });
      if (slow) await sleep(slow);
      if (i === 1) await gate(config, this);
    }
    if (this.canceled) stop();
    for (const u of conduit.getUnits({ typeIds: ['tfile'] })) if (!seen.has(u.unitKey.name)) conduit.removeUnit(u);
    const pad = conduit.getScratchpad() || { syncs: 0 };
    conduit.setScratchpad({ syncs: pad.syncs + 1 });
    conduit.setRepoScratchpad({ last_sync_files: names.length });
    // What the operation sees after its removals (getUnits / countUnits within the operation).
    const units = conduit.getUnits({ typeIds: ['tfile'] }).length;
    return { success: true, summary: { synced: names.length, syncs: pad.syncs + 1, units, counted: conduit.countUnits({ typeIds: ['tfile'] }) } };
  }
  cancelSyncRepo() { this.canceled = true; }
  async uploadUnit(repo, upload, conduit, config) {
    const slow = Number(config.get('slow_ms', 0));
    if (upload.typeId === 'tnote') {
      const md = { ...upload.metadata, text: upload.filePath ? fs.readFileSync(upload.filePath, 'utf8') : (upload.metadata.text ?? '') };
      // as_text: {key: JSON text} become JsonText values (the brand made here, as a plugin with its own copy of the contract would).
      for (const [k, t] of Object.entries(md.as_text ?? {})) md[k] = { [Symbol.for('stagepush.jsonText')]: t };
      delete md.as_text;
      const u = conduit.initUnit('tnote', { id: upload.unitKey.id ?? (upload.filePath ? path.basename(upload.filePath, '.note') : 'note') }, md, null);
      conduit.saveUnit(u);
      return { success: true, summary: { notes: 1 } };
    }
    const name = upload.unitKey.name ?? path.basename(upload.filePath);
    const md = { ...upload.metadata };
    if (config.get('record_level')) md.seen_level = config.get('level', 'default-level');
    if (md.blob_file) { const b = conduit.storeBlob(md.blob_file); md.blob_linked = b.linked; delete md.blob_file; md.blob_sha = b.sha256; }
    if (config.get('from_file')) {
      const u = conduit.initUnit('tfile', { name, checksum: sha256(upload.filePath) }, md, null);
      if (md.blob_sha) u.blobs = [md.blob_sha];
      conduit.saveUnitFromFile({ ...u, relativePath: name }, upload.filePath);
      return { success: true, summary: { uploaded: name, from_file: true } };
    }
    const unit = conduit.initUnit('tfile', { name, checksum: sha256(upload.filePath) }, md, name);
    if (md.blob_sha) unit.blobs = [md.blob_sha];
    const fd = fs.openSync(unit.storagePath, 'w');
    const data = fs.readFileSync(upload.filePath);
    const half = Math.floor(data.length / 2);
    fs.writeSync(fd, data, 0, half);
    if (slow) await sleep(slow);
    await gate(config, { get canceled() { return conduit.signal.aborted; } }, 'upload_gate_file');
    if (conduit.signal.aborted) { fs.closeSync(fd); throw new Error('upload canceled'); }
    fs.writeSync(fd, data, half, data.length - half);
    fs.closeSync(fd);
    const saved = conduit.saveUnit(unit);
    if (upload.metadata.link_to) {
      const target = conduit.getUnits({ typeIds: ['tnote'], filters: { id: upload.metadata.link_to } })[0];
      if (target) conduit.linkUnit(saved, target);
    }
    conduit.setProgress({ uploaded: name });
    if (config.get('keep_conduit')) globalThis.__keptConduit = conduit;
    if (config.get('bad_scratchpad')) conduit.setScratchpad({ when: new Date(0) });
    if (config.get('fail_after_save')) throw new Error('failing after save on purpose');
    if (config.get('bad_summary')) return { success: true, summary: { uploaded: name, n: 1n } };
    return { success: true, summary: { uploaded: name } };
  }
  async importUnits(source, dest, conduit, config, units) {
    if (config.get('import_returns_string')) return 'nope';
    if (config.get('copy_via_source')) units = conduit.getSourceUnits({ typeIds: ['tfile'] });
    if (config.get('copy_via_iter')) units = [...conduit.iterSourceUnits({ typeIds: ['tnote'], skip: Number(config.get('iter_skip', 0)) })];
    const out = [];
    for (const u of units) out.push(conduit.saveUnit(u));
    return out;
  }
  removeUnits(repo, units, config) { fs.writeFileSync(path.join(repo.workingDir, 'removed.json'), JSON.stringify(units.map((u) => u.unitKey))); }
}

export function entryPoint() { return [TestImporter, { level: 'plugin', from_entry: true }]; }
`;

export const TEST_DISTRIBUTOR_JS = String.raw`
import fs from 'node:fs';
import path from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function gate(config, self, key = 'gate_file') { const g = config.get(key); while (g && !fs.existsSync(g) && !self.canceled) await sleep(50); }
function logHook(config, line) { const f = config.get('hook_log'); if (f) fs.appendFileSync(f, line + '\n'); }

class TestDistributor {
  constructor() { this.canceled = false; }
  metadata() { return { id: 'test_distributor', displayName: 'Test distributor', types: ['tfile', 'tnote'] }; }
  validateConfig(repo, config, related) {
    const rel = config.get('relative_url');
    if (typeof rel !== 'string' || !rel || rel.startsWith('/')) return { valid: false, message: 'relative_url must be a relative path (got ' + JSON.stringify(rel) + ')' };
    const clash = related.repos.find((r) => r.config.relative_url === rel);
    if (clash) return { valid: false, message: 'relative_url ' + rel + ' is already used by repository ' + clash.id };
    return { valid: true };
  }
  distributorAdded(repo, config) { fs.writeFileSync(path.join(repo.workingDir, 'added.json'), JSON.stringify({ repo: repo.id })); logHook(config, 'distributorAdded ' + repo.id + ' ' + repo.workingDir); }
  distributorRemoved(repo, config) { logHook(config, 'distributorRemoved ' + repo.id + ' ' + repo.workingDir); if (config.get('fail_removed_hook')) throw new Error('cannot unpublish'); }
  async publishRepo(repo, conduit, config) {
    if (config.get('fail_publish')) return { success: false, summary: 'failing on purpose' };
    const rel = config.get('relative_url');
    const target = path.join(conduit.publishRoot, 'http', rel);
    const tmp = target + '.tmp-' + process.pid;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const units = conduit.getUnits({ typeIds: ['tfile'] });
    let i = 0;
    for (const u of units) {
      if (this.canceled) { fs.rmSync(tmp, { recursive: true, force: true }); throw new Error('publish canceled'); }
      fs.symlinkSync(u.storagePath, path.join(tmp, u.unitKey.name));
      conduit.setProgress({ published: ++i, total: units.length });
      const slow = Number(config.get('slow_ms', 0));
      if (slow) await sleep(slow);
      if (i === 1) await gate(config, this);
    }
    if (this.canceled) { fs.rmSync(tmp, { recursive: true, force: true }); fs.writeFileSync(path.join(repo.workingDir, 'stopped-by-cancel'), 'publish'); throw new Error('publish canceled'); }
    const notes = conduit.getUnits({ typeIds: ['tnote'], fields: ['text'] });
    const links = {};
    for (const u of units) { const l = conduit.getLinkedUnits(u, { typeIds: ['tnote'] }); if (l.length) links[u.unitKey.name] = l.map((n) => n.unitKey.id); }
    const pad = conduit.getScratchpad() || { publishes: 0 };
    conduit.setScratchpad({ publishes: pad.publishes + 1 });
    const iterated = [];
    for (const u of conduit.iterUnits({ typeIds: ['tfile'] })) iterated.push(u.unitKey.name);
    fs.writeFileSync(path.join(tmp, 'index.json'), JSON.stringify({
      version: conduit.repoVersion, files: units.map((u) => u.unitKey.name), iterated, count: conduit.countUnits(), countFiles: conduit.countUnits({ typeIds: ['tfile'] }),
      notes: notes.map((n) => ({ id: n.unitKey.id, text: n.metadata.text, keys: Object.keys(n.metadata) })), links, others: conduit.otherRelativeUrls(),
      publishes: pad.publishes + 1, repoPad: conduit.getRepoScratchpad() ?? null, contentRoot: conduit.contentRoot, blobs: units.filter((u) => u.blobs && u.blobs.length).map((u) => conduit.blobPath(u.blobs[0])),
    }, null, 1));
    const old = target + '.old-' + process.pid;
    if (fs.existsSync(target)) fs.renameSync(target, old);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.renameSync(tmp, target);
    fs.rmSync(old, { recursive: true, force: true });
    const urls = conduit.baseUrls.http ? [conduit.baseUrls.http.replace(/\/$/, '') + '/' + rel + '/'] : [];
    if (config.get('urls_as_string')) return { success: true, summary: {}, publishedPaths: [target], urls: 'http://mirror.example.com/' };
    if (config.get('paths_as_string')) return { success: true, summary: {}, publishedPaths: target, urls };
    return { success: true, summary: { files: units.length }, publishedPaths: [target], urls };
  }
  verifyPublished(repo, config) {
    const mode = config.get('verify_mode');
    if (mode === 'throw') throw new Error('verify boom');
    if (mode === 'string') return 'all good';
    return [];
  }
  cancelPublishRepo() { this.canceled = true; }
  createConsumerPayload(repo, config, binding) { return { relative_url: config.get('relative_url'), repo: repo.id, binding }; }
}

export function entryPoint() { return [TestDistributor, {}]; }
`;

/** Write the test directory plugin into `<pluginsDir>/testplug/`. */
export function writeTestPlugin(pluginsDir: string, conf: Record<string, unknown> | null = { level: 'conf' }): string {
  const dir = path.join(pluginsDir, 'testplug');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'importer.js'), TEST_IMPORTER_JS);
  writeFileSync(path.join(dir, 'distributor.js'), TEST_DISTRIBUTOR_JS);
  writeFileSync(path.join(dir, 'types.json'), JSON.stringify(TEST_TYPES));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  if (conf) writeFileSync(path.join(dir, 'testplug.conf'), JSON.stringify(conf));
  return dir;
}

export interface EngineEnv {
  root: string;
  dataDir: string;
  pluginsDir: string;
  configDir: string;
  env: NodeJS.ProcessEnv;
  cli(args: string[], extraEnv?: NodeJS.ProcessEnv, cwd?: string): SpawnSyncReturns<string>;
  /** Run with --json and parse stdout (asserting nothing about the status). */
  json<T = any>(args: string[], extraEnv?: NodeJS.ProcessEnv): { status: number | null; out: T; stderr: string };
  spawn(args: string[], extraEnv?: NodeJS.ProcessEnv): ReturnType<typeof spawnCli>;
}

/** A fresh data dir + plugins dir with the test plugin, and CLI runners using them. */
export function engineEnv(opts: { plugin?: boolean } = {}): EngineEnv {
  const root = tempDir('stagepush-engine-');
  const dataDir = path.join(root, 'data');
  const pluginsDir = path.join(root, 'plugins');
  const configDir = path.join(root, 'config');
  mkdirSync(pluginsDir, { recursive: true });
  mkdirSync(configDir, { recursive: true });
  if (opts.plugin !== false) writeTestPlugin(pluginsDir);
  const env: NodeJS.ProcessEnv = { STAGEPUSH_DATA_DIR: dataDir, STAGEPUSH_PLUGINS_DIR: pluginsDir, XDG_CONFIG_HOME: path.join(root, 'xdg'), STAGEPUSH_PLUGIN_PACKAGES: '', STAGEPUSH_CONFIG: '' };
  const cli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}, cwd?: string) => runCli(args, { env: { ...env, ...extraEnv }, cwd });
  return {
    root,
    dataDir,
    pluginsDir,
    configDir,
    env,
    cli,
    json(args, extraEnv = {}) {
      const r = cli([...args, '--json'], extraEnv);
      let out: any = null;
      try {
        out = JSON.parse(r.stdout);
      } catch {
        out = { unparsable: r.stdout };
      }
      return { status: r.status, out, stderr: r.stderr };
    },
    spawn(args, extraEnv = {}) {
      return spawnCli(args, { env: { ...env, ...extraEnv } });
    },
  };
}

/** Poll (with fresh CLI processes) until `pred` holds; fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 60_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Collect a child's output and exit status. */
export function finished(child: ReturnType<typeof spawnCli>): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr })));
}
