import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir, runCli } from '../helpers/cli.js';
import { push, RPMS, sha256, writeConfig, writeStagedYaml } from '../helpers/push.js';

interface Ev {
  type: string;
  phase?: string;
  total?: number;
}

function events(stderr: string): Ev[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Ev);
}

/** el9/RPMS: two RPMs; files/FILES: one file (staged.yaml). */
function smallArea(root: string): { rpms: string[]; file: Buffer } {
  const rpms = ['demo-hello-1.0-1.noarch.rpm', 'demo-tools-2.0-1.noarch.rpm'];
  mkdirSync(path.join(root, 'el9', 'RPMS'), { recursive: true });
  for (const f of rpms) copyFileSync(path.join(RPMS, f), path.join(root, 'el9', 'RPMS', f));
  const file = Buffer.alloc(20_000, 3);
  mkdirSync(path.join(root, 'files', 'FILES'), { recursive: true });
  writeFileSync(path.join(root, 'files', 'FILES', 'disk.img'), file);
  writeStagedYaml(root, { 'disk.img': file });
  return { rpms, file };
}

const storePath = (dataDir: string, sha: string) => path.join(dataDir, 'content', 'sha256', sha.slice(0, 2), sha.slice(2));

test('--pre-push pins what it stores: gc between pre-push and push keeps it; the push then reads and hashes nothing again', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const root = path.join(work, 'area');
  const { rpms, file } = smallArea(root);
  const shas = [...rpms.map((f) => sha256(readFileSync(path.join(RPMS, f)))), sha256(file)];

  const pre = push(['--json', '--progress', 'ndjson', '--pre-push', root], { dataDir, config });
  assert.equal(pre.status, 0, pre.stderr);
  const preRep = JSON.parse(pre.stdout);
  assert.equal(preRep.mode, 'pre-push');
  // Same filesystem: hard-linked into the store, and the report says so.
  assert.ok(preRep.items.filter((i: { type: string }) => i.type === 'rpm' || i.type === 'iso').every((i: { stored?: string }) => i.stored === 'linked'), JSON.stringify(preRep.items));
  assert.ok(preRep.summary.bytes_linked > 0);
  assert.equal(preRep.summary.bytes_copied, 0);
  const preEv = events(pre.stderr).find((e) => e.type === 'phase-start' && e.phase === 'checksum');
  assert.equal(preEv?.total, 3, 'the pre-push hashes and parses every file once');
  for (const s of shas) assert.ok(existsSync(storePath(dataDir, s)), s);
  const pins = readdirSync(path.join(dataDir, 'content', 'pins'));
  assert.equal(pins.length, 1);

  // gc (and orphans remove) between pre-push and push: pinned content stays.
  const gc = runCli(['--data-dir', dataDir, 'gc', '--json'], { env: { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: path.join(dataDir, 'no-xdg') } });
  assert.equal(gc.status, 0, gc.stderr);
  assert.equal(JSON.parse(gc.stdout).orphans.files, 0, gc.stdout);
  const orphans = runCli(['--data-dir', dataDir, 'orphans', 'remove', '--json'], { env: { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: path.join(dataDir, 'no-xdg') } });
  assert.equal(orphans.status, 0, orphans.stderr);
  for (const s of shas) assert.ok(existsSync(storePath(dataDir, s)), `${s} removed by gc`);

  // The push: every file unchanged since the pre-push: no checksum/header job at all.
  const r = push(['--json', '--progress', 'ndjson', root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  const ev = events(r.stderr).find((e) => e.type === 'phase-start' && e.phase === 'checksum');
  assert.equal(ev?.total, 0, 'nothing is re-hashed or re-parsed after a pre-push');
  const stored = rep.items.filter((i: { type: string }) => i.type === 'rpm' || i.type === 'iso');
  assert.equal(stored.length, 3);
  assert.ok(stored.every((i: { stored?: string; action: string }) => i.stored === 'existing' && i.action === 'pushed'), JSON.stringify(stored));
  // The push imported the pinned content: the pin is released.
  assert.deepEqual(readdirSync(path.join(dataDir, 'content', 'pins')), []);
});

test('an expired pre-push pin no longer protects its content from gc', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = writeConfig(work);
  const root = path.join(work, 'area');
  const { file } = smallArea(root);
  assert.equal(push(['-q', '--pre-push', root], { dataDir, config }).status, 0);
  const pinDir = path.join(dataDir, 'content', 'pins');
  const [pin] = readdirSync(pinDir);
  const body = JSON.parse(readFileSync(path.join(pinDir, pin!), 'utf8'));
  assert.ok(body.until > Date.now() + 100 * 3600_000, 'default retention: a week');
  writeFileSync(path.join(pinDir, pin!), JSON.stringify({ ...body, until: Date.now() - 1000 }));
  const gc = runCli(['--data-dir', dataDir, 'gc', '--json'], { env: { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: path.join(dataDir, 'no-xdg') } });
  assert.equal(gc.status, 0, gc.stderr);
  assert.equal(JSON.parse(gc.stdout).orphans.files, 3);
  assert.equal(existsSync(storePath(dataDir, sha256(file))), false);
});

test('a push releases only pre-push pins: a package another repository keeps for its old metadata stays pinned when this push imports the same file', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const repo = (id: string) => `  ${id}: {type: yum, destinations: [${id}], push_mode: mirror, retain_repo_versions: 1, distributors: [{type_id: yum_distributor, config: {relative_url: ${id}, package_link: symlink}}]}\n`;
  const config = writeConfig(work, `repositories:\n${repo('r1')}${repo('r2')}`);
  const cli = (args: string[]) => runCli(['--data-dir', dataDir, '--config', config, ...args], { env: { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: path.join(dataDir, 'no-xdg') } });
  const area = (dest: string, rpms: string[]): string => {
    const root = mkdtempSync(path.join(work, 'area-'));
    mkdirSync(path.join(root, dest, 'RPMS'), { recursive: true });
    for (const f of rpms) copyFileSync(path.join(RPMS, f), path.join(root, dest, 'RPMS', f));
    return root;
  };
  const old = 'demo-hello-1.0-1.noarch.rpm';
  const oldSha = sha256(readFileSync(path.join(RPMS, old)));
  assert.equal(push(['-q', area('r1', [old, 'demo-tools-2.0-1.noarch.rpm'])], { dataDir, config }).status, 0);
  // r1 drops the package: its pool keeps it for the repomd.xml it replaced (pinned: symlinks point at the stored file).
  assert.equal(push(['-q', area('r1', ['demo-hello-1.1-1.noarch.rpm', 'demo-tools-2.0-1.noarch.rpm'])], { dataDir, config }).status, 0);
  const entry = path.join(dataDir, 'published', 'http', 'r1', 'Packages', 'd', old);
  assert.ok(existsSync(entry));
  // r2 takes the same file in (unpublished), then drops it: its unit is an orphan, r2's pool never held it.
  assert.equal(push(['-q', '--skip', 'publish', area('r2', [old])], { dataDir, config }).status, 0);
  assert.equal(push(['-q', area('r2', ['demo-tools-2.0-1.noarch.rpm'])], { dataDir, config }).status, 0);
  const gc = cli(['gc', '--json']);
  assert.equal(gc.status, 0, gc.stderr);
  assert.ok(existsSync(storePath(dataDir, oldSha)), 'the stored file r1 still serves is kept');
  assert.ok(existsSync(entry), 'r1/Packages/d/' + old + ' resolves');
  const fsck = cli(['fsck']);
  assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
});

test('file and RPM content is hard-linked on the same filesystem and copied (verified) across filesystems; the report says which', () => {
  const work = tempDir();
  const config = writeConfig(work);
  const root = path.join(work, 'area');
  const { file } = smallArea(root);
  const dataDir = path.join(work, 'data');
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  const iso = rep.items.find((i: { type: string }) => i.type === 'iso');
  assert.equal(iso.stored, 'linked');
  const src = statSync(path.join(root, 'files', 'FILES', 'disk.img'));
  assert.equal(statSync(storePath(dataDir, sha256(file))).ino, src.ino);
  assert.ok(rep.items.filter((i: { type: string }) => i.type === 'rpm').every((i: { stored?: string }) => i.stored === 'linked'));
  assert.equal(rep.summary.bytes_copied, 0);

  // Another filesystem (tmpfs), when this machine has one apart from the temp dir's.
  const shm = '/dev/shm';
  if (!existsSync(shm) || statSync(shm).dev === statSync(work).dev) return;
  const other = mkdtempSync(path.join(shm, 'stagepush-test-'));
  process.on('exit', () => rmSync(other, { recursive: true, force: true }));
  const r2 = push(['--json', root], { dataDir: path.join(other, 'data'), config });
  assert.equal(r2.status, 0, r2.stderr);
  const rep2 = JSON.parse(r2.stdout);
  const copied = rep2.items.filter((i: { type: string }) => i.type === 'rpm' || i.type === 'iso');
  assert.ok(copied.every((i: { stored?: string }) => i.stored === 'copied'), JSON.stringify(copied));
  assert.equal(rep2.summary.bytes_linked, 0);
  assert.ok(rep2.summary.bytes_copied >= file.length);
  assert.deepEqual(readFileSync(storePath(path.join(other, 'data'), sha256(file))), file);
});
