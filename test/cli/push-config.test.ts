/**
 * The config file as every command sees it (data dir, log retention), gc of the push records,
 * and push's lock behaviour (--no-wait exits 5; a waiting push completes once the lock is free).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { runCli, spawnCli, tempDir } from '../helpers/cli.js';
import { keyIds, RPMS } from '../helpers/push.js';

const require_ = createRequire(import.meta.url);

/** A staging area with one signed RPM in destination `dest`. */
function rpmArea(root: string, dest = 'el9', rpm = 'demo-tools-2.0-1.noarch.rpm'): string {
  mkdirSync(path.join(root, dest, 'RPMS'), { recursive: true });
  copyFileSync(path.join(RPMS, rpm), path.join(root, dest, 'RPMS', rpm));
  return root;
}

/** Another run holding a repository's lock: an engine transaction in this process, until released. */
async function holdRepository(dataDir: string, id: string) {
  const { openEngine } = await import('../../src/engine/index.js');
  const eng = await openEngine({ dataDir });
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let holding!: () => void;
  const held = new Promise<void>((r) => (holding = r));
  const tx = eng.transaction([id], async () => {
    holding();
    await gate;
  });
  await held;
  let done: Promise<void> | null = null;
  return {
    eng,
    release: (): Promise<void> =>
      (done ??= (async () => {
        open();
        await tx;
        eng.close();
      })()),
  };
}

/** No --data-dir, no $STAGEPUSH_DATA_DIR: only the config file says where the data is. */
function cli(args: string[], env: NodeJS.ProcessEnv) {
  return runCli(args, { env: { STAGEPUSH_DATA_DIR: '', STAGEPUSH_CONFIG: '', STAGEPUSH_PUBLISH_ROOT: '', ...env } });
}

test('every command uses the config file data dir and publish root (push, repo list, push list, gc)', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const xdg = path.join(work, 'xdg');
  mkdirSync(path.join(xdg, 'stagepush'), { recursive: true });
  // Found by the XDG search; relative paths are relative to the file.
  writeFileSync(path.join(xdg, 'stagepush', 'config.yaml'), `data_dir: ../../data\npublish: {root: ../../pub}\nlog_retention_days: 1\nallowed_signing_keys: [${keyIds().A}]\n`);
  const env = { XDG_CONFIG_HOME: xdg };
  const area = rpmArea(path.join(work, 'area'));
  const p = cli(['push', '--json', area], env);
  assert.equal(p.status, 0, p.stderr);
  const rep = JSON.parse(p.stdout);
  assert.equal(rep.data_dir, dataDir);
  assert.ok(existsSync(path.join(work, 'pub', 'http', 'el9', 'repodata', 'repomd.xml')));

  const repos = cli(['repo', 'list', '--json'], env);
  assert.equal(repos.status, 0, repos.stderr);
  assert.deepEqual(JSON.parse(repos.stdout).map((r: { id: string }) => r.id), ['el9']);
  const show = cli(['repo', 'show', 'el9', '--json'], env);
  assert.equal(show.status, 0, show.stderr);
  assert.match(JSON.stringify(JSON.parse(show.stdout).distributors[0].published), new RegExp(path.join(work, 'pub', 'http', 'el9').replace(/[/.]/g, '\\$&')));
  const list = cli(['push', 'list', '--json'], env);
  assert.deepEqual(JSON.parse(list.stdout).map((r: { id: string }) => r.id), [rep.push_id]);
  // The flag and the environment still win over the file.
  const other = path.join(work, 'other');
  assert.deepEqual(JSON.parse(cli(['repo', 'list', '--json'], { ...env, STAGEPUSH_DATA_DIR: other }).stdout), []);
  assert.deepEqual(JSON.parse(cli(['--data-dir', other, 'repo', 'list', '--json'], env).stdout), []);
  // --config names the file too.
  const explicit = path.join(work, 'explicit.yaml');
  writeFileSync(explicit, `data_dir: ${dataDir}\n`);
  assert.deepEqual(JSON.parse(cli(['--config', explicit, 'repo', 'list', '--json'], { XDG_CONFIG_HOME: path.join(work, 'none') }).stdout).map((r: { id: string }) => r.id), ['el9']);

  // gc applies log_retention_days (1 day) to push logs, stat cache rows and cached headers.
  const logDir = path.join(dataDir, 'logs', rep.push_id);
  const old = new Date(Date.now() - 3 * 86400_000);
  utimesSync(logDir, old, old);
  const Database = require_('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(path.join(dataDir, 'push.sqlite'));
  const statRows = db.prepare('UPDATE stat_cache SET seen = ?').run(old.getTime()).changes;
  const headerRows = db.prepare('UPDATE rpm_headers SET seen = ?').run(old.getTime()).changes;
  db.close();
  assert.ok(statRows > 0 && headerRows > 0);
  const rows = statRows + headerRows;
  const dry = cli(['gc', '--dry-run', '--json'], env);
  assert.equal(dry.status, 0, dry.stderr);
  const d = JSON.parse(dry.stdout);
  assert.deepEqual([d.logRetentionDays, d.pushLogsPruned, d.statCachePruned], [1, [rep.push_id], rows]);
  assert.ok(existsSync(logDir));
  const gc = cli(['gc', '--json'], env);
  assert.equal(gc.status, 0, gc.stderr);
  assert.deepEqual(JSON.parse(gc.stdout).pushLogsPruned, [rep.push_id]);
  assert.equal(existsSync(logDir), false);
  const db2 = new Database(path.join(dataDir, 'push.sqlite'), { readonly: true });
  assert.equal((db2.prepare('SELECT (SELECT COUNT(*) FROM stat_cache) + (SELECT COUNT(*) FROM rpm_headers) AS n').get() as { n: number }).n, 0);
  db2.close();
  // 0 keeps everything.
  const p2 = cli(['push', '-q', area], env);
  assert.equal(p2.status, 0, p2.stderr);
  const id2 = readdirSync(path.join(dataDir, 'logs'))[0]!;
  utimesSync(path.join(dataDir, 'logs', id2), old, old);
  assert.deepEqual(JSON.parse(cli(['gc', '--json', '--log-retention-days', '0'], env).stdout).pushLogsPruned, []);
  assert.ok(existsSync(path.join(dataDir, 'logs', id2)));
});

test('push --no-wait exits 5 while another run holds a destination lock; a waiting push completes after', async () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, `allowed_signing_keys: [${keyIds().A}]\n`);
  const env = { STAGEPUSH_CONFIG: config, STAGEPUSH_DATA_DIR: dataDir };
  assert.equal(runCli(['push', '-q', rpmArea(path.join(work, 'a1'))], { env }).status, 0);
  const area = rpmArea(path.join(work, 'a2'), 'el9', 'demo-hello-1.0-1.noarch.rpm');

  // Another run holds repository el9 (an engine transaction in this process).
  const hold = await holdRepository(dataDir, 'el9');
  try {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawnCli(['push', ...args, area], { env });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        c.stderr.on('data', (b: Buffer) => {
          stderr += b.toString();
          if (/waiting for repo:el9/.test(stderr)) void hold.release();
        });
        c.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const nw = await run(['--no-wait', '--json']);
    assert.equal(nw.code, 5, nw.stderr);
    assert.equal(JSON.parse(nw.stdout).status, 'locked');
    assert.match(nw.stderr, /ENGINE_LOCKED.*repo:el9/);
    // Every item it would have pushed is listed as not pushed, and why.
    const locked = JSON.parse(nw.stdout) as { items: Array<{ repository: string; action: string; reason: string }>; summary: { items: number; failed: number } };
    assert.deepEqual(locked.items.map((i) => `${i.repository} ${i.action}`), ['el9 failed']);
    assert.match(locked.items[0]!.reason, /^not pushed: .*repo:el9 is locked by another run/);
    assert.deepEqual([locked.summary.items, locked.summary.failed], [1, 1]);
    // Its record says how it ended (it changed nothing, but it did not succeed).
    const shown = runCli(['--data-dir', dataDir, 'push', 'show', JSON.parse(nw.stdout).push_id], { env: { STAGEPUSH_CONFIG: '' } });
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /status: locked, exit 5/);
    assert.match(shown.stdout, /problem \[ENGINE_LOCKED\]/);
    // Without --no-wait the push says it waits (on stderr, --json or not, as other commands do),
    // and completes once the lock is released.
    const w = await run(['--json']);
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stderr, /waiting for repo:el9/);
    assert.deepEqual(JSON.parse(w.stdout).items.map((i: { unit: string; action: string }) => `${i.unit} ${i.action}`), ['rpm:demo-hello-0:1.0-1.noarch pushed']);
  } finally {
    await hold.release();
  }
});

test('a push stopped (SIGTERM) while it waits for a lock deletes the repository it created for a new destination: nothing is left of it', async () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, `allowed_signing_keys: [${keyIds().A}]\n`);
  const env = { STAGEPUSH_CONFIG: config, STAGEPUSH_DATA_DIR: dataDir };
  assert.equal(runCli(['push', '-q', rpmArea(path.join(work, 'a1'))], { env }).status, 0);
  // el9 is held; the push also feeds a new destination (wnew), which it creates before waiting.
  const area = rpmArea(rpmArea(path.join(work, 'a2'), 'el9', 'demo-hello-1.0-1.noarch.rpm'), 'wnew', 'demo-hello-1.0-1.noarch.rpm');
  const hold = await holdRepository(dataDir, 'el9');
  try {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = spawnCli(['push', '--progress', 'plain', area], { env });
      let stderr = '';
      let sent = false;
      c.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        if (!sent && /waiting for repo:el9/.test(stderr)) {
          sent = true;
          c.kill('SIGTERM');
        }
      });
      c.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(r.code, 143, r.stderr);
    assert.equal(hold.eng.getRepo('wnew'), null, `the repository it created is gone: ${r.stderr}`);
  } finally {
    await hold.release();
  }
});

test('a push stopped during its publish reports what it published as published (report and push list), not skipped', async () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  // A distributor that waits (until canceled) once it has started: the push is stopped there.
  const plug = path.join(dataDir, 'plugins', 'waiter');
  mkdirSync(plug, { recursive: true });
  writeFileSync(path.join(plug, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(
    path.join(plug, 'distributor.js'),
    `import fs from 'node:fs';
class Waiter {
  metadata() { return { id: 'waiter_distributor', types: ['directory'] }; }
  validateConfig() { return { valid: true }; }
  async publishRepo(repo, conduit, config) {
    fs.writeFileSync(config.get('started'), 'x');
    while (!conduit.signal.aborted) await new Promise((r) => setTimeout(r, 50));
    throw new Error('canceled');
  }
  cancelPublishRepo() {}
}
export function entryPoint() { return [Waiter, {}]; }
`,
  );
  const started = path.join(work, 'started');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, `repositories:\n  zzz:\n    type: directory\n    distributors:\n      - {type_id: directory_distributor}\n      - {id: wait, type_id: waiter_distributor, config: {started: ${started}, relative_url: zzz-wait}}\n`);
  const area = path.join(work, 'area');
  for (const d of ['aaa', 'zzz']) {
    mkdirSync(path.join(area, d, 'RAW'), { recursive: true });
    writeFileSync(path.join(area, d, 'RAW', 'f.txt'), `${d}\n`);
  }
  const env = { STAGEPUSH_CONFIG: config, STAGEPUSH_DATA_DIR: dataDir };
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const c = spawnCli(['push', '--json', area], { env });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const poll = setInterval(() => {
      if (existsSync(started)) {
        clearInterval(poll);
        c.kill('SIGTERM');
      }
    }, 20);
    c.on('close', (code) => {
      clearInterval(poll);
      resolve({ code, stdout, stderr });
    });
  });
  assert.equal(r.code, 143, r.stderr);
  const rep = JSON.parse(r.stdout) as { repositories: Array<{ id: string; status: string; distributors: Array<{ id: string; status: string }> }>; summary: { repositories_published: number } };
  const aaa = rep.repositories.find((x) => x.id === 'aaa')!;
  assert.equal(aaa.status, 'published', JSON.stringify(rep.repositories));
  assert.equal(rep.summary.repositories_published >= 1, true);
  const list = runCli(['push', 'list', '--json'], { env });
  assert.equal(list.status, 0, list.stderr);
  assert.ok((JSON.parse(list.stdout) as Array<{ repositories_published: number }>)[0]!.repositories_published >= 1, list.stdout);
});

test('a refused push prunes the logs older than log_retention_days too (a cron job on a broken staging area does not grow logs/ for ever)', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, `allowed_signing_keys: [${keyIds().A}]\nlog_retention_days: 1\n`);
  const env = { STAGEPUSH_CONFIG: config, STAGEPUSH_DATA_DIR: dataDir };
  assert.equal(runCli(['push', '-q', rpmArea(path.join(work, 'a1'))], { env }).status, 0);
  const logs = path.join(dataDir, 'logs');
  const [old] = readdirSync(logs);
  const past = new Date(Date.now() - 5 * 86400_000);
  utimesSync(path.join(logs, old!), past, past);
  const bad = path.join(work, 'bad');
  mkdirSync(path.join(bad, 'x', 'RPMS'), { recursive: true });
  writeFileSync(path.join(bad, 'x', 'RPMS', 'junk-1-1.noarch.rpm'), 'junk\n');
  assert.equal(runCli(['push', '-q', bad], { env }).status, 3);
  const left = readdirSync(logs);
  assert.ok(!left.includes(old!), `the 5-day-old log is pruned: ${left.join(' ')}`);
  assert.equal(left.length, 1, 'the refused push keeps its own');
});

test('a data dir reached through another path (a symlink to it) that cannot publish says why', () => {
  const work = tempDir();
  const real = path.join(work, 'real');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, `allowed_signing_keys: [${keyIds().A}]\n`);
  const area = rpmArea(path.join(work, 'a1'));
  assert.equal(runCli(['push', '-q', area], { env: { STAGEPUSH_CONFIG: config, STAGEPUSH_DATA_DIR: real } }).status, 0);
  const link = path.join(work, 'link');
  symlinkSync(real, link);
  const r = runCli(['push', '--force-publish', '--json', area], { env: { STAGEPUSH_CONFIG: config, STAGEPUSH_DATA_DIR: link } });
  assert.equal(r.status, 6, r.stderr);
  assert.match(JSON.parse(r.stdout).problems[0].message, /PUBLISH_PATH_TAKEN.*published by this same distributor through another path of the data directory/);
});
