/**
 * Orphans, pins, gc and fsck, checked from fresh processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { openEngine } from '../../src/engine/index.js';
import { ContentStore } from '../../src/engine/store.js';
import { engineEnv } from '../helpers/engine.js';

const require_ = createRequire(import.meta.url);

function ok(r: { status: number | null; stderr: string; stdout?: string }, what = ''): void {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\n${r.stderr}\n${r.stdout ?? ''}`);
}

function write(dir: string, name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

test('orphans: units in no retained version and not pinned; removal deletes their files unless still referenced', async () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer']));
  ok(e.cli(['repo', 'create', 'r2', '--importer', 'test_importer']));
  for (const n of ['a', 'b', 'c', 'p']) ok(e.cli(['content', 'upload', '--repo', 'r', write(e.root, `${n}.txt`, `${n} content`)]));
  // same bytes as b.txt under another name in r2: the file is shared by two units
  ok(e.cli(['content', 'upload', '--repo', 'r2', write(e.root, 'b2.txt', 'b content')]));
  const units = e.json(['content', 'list', '--repo', 'r']).out;
  const byName = Object.fromEntries(units.map((u: any) => [u.unitKey.name, u]));
  ok(e.cli(['content', 'remove', '--repo', 'r', '--filter', '{"name":{"$in":["b.txt","c.txt","p.txt"]}}']));
  assert.deepEqual(e.json(['orphans', 'list']).out, [], 'still in a retained version');
  // pin p for an hour (what the push does for pre-pushed content)
  const eng = await openEngine({ dataDir: e.dataDir, pluginsDir: e.pluginsDir });
  eng.pinUnits([byName['p.txt'].id], Date.now() + 3600_000);
  eng.close();
  ok(e.cli(['repo', 'update', 'r', '--retain-repo-versions', '1']));
  const orphans = e.json(['orphans', 'list']).out;
  assert.deepEqual(orphans.map((o: any) => o.unitKey.name).sort(), ['b.txt', 'c.txt']);
  const dry = e.json(['orphans', 'remove', '--dry-run']).out;
  assert.deepEqual([dry.dryRun, dry.units, dry.files], [true, 2, 1], 'b.txt\'s file is still used by b2.txt');
  assert.equal(e.json(['orphans', 'list']).out.length, 2, 'dry run changes nothing');
  const rm = e.json(['orphans', 'remove']).out;
  assert.deepEqual([rm.units, rm.files, rm.bytes], [2, 1, 'c content'.length]);
  assert.deepEqual(e.json(['orphans', 'list']).out, []);
  assert.ok(!fs.existsSync(byName['c.txt'].storagePath), 'orphan file deleted');
  assert.ok(fs.existsSync(byName['b.txt'].storagePath), 'a file still referenced is never deleted');
  assert.ok(fs.existsSync(byName['p.txt'].storagePath), 'pinned unit kept');
  assert.equal(fs.readFileSync(e.json(['content', 'list', '--repo', 'r2']).out[0].storagePath, 'utf8'), 'b content');
  // deleting a repository makes its units orphans
  ok(e.cli(['repo', 'delete', 'r2']));
  assert.deepEqual(e.json(['orphans', 'list']).out.map((o: any) => o.unitKey.name), ['b2.txt']);
  ok(e.cli(['orphans', 'remove']));
  assert.ok(!fs.existsSync(byName['b.txt'].storagePath));
  ok(e.cli(['fsck']), 'fsck');
});

test('gc: --dry-run reports, then prunes versions beyond retention, old tasks, orphans, stray temp files, dead working dirs', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer', '--retain-repo-versions', '0']));
  for (const n of ['a', 'b']) ok(e.cli(['content', 'upload', '--repo', 'r', write(e.root, `${n}.txt`, n)]));
  ok(e.cli(['content', 'remove', '--repo', 'r', '--filter', 'name=a.txt']));
  // retention set directly in the database by an older run: gc enforces it
  const junk = path.join(e.dataDir, 'content', 'tmp', 'junk-file');
  fs.writeFileSync(junk, 'x');
  fs.mkdirSync(path.join(e.dataDir, 'working', 'ghost', 'importer', 'x'), { recursive: true });
  const before = e.cli(['fsck']);
  assert.equal(before.status, 6);
  assert.match(before.stderr + before.stdout, /ENGINE_STRAY_TEMP.*junk-file|junk-file.*temporary file left/);
  ok(e.cli(['repo', 'update', 'r', '--retain-repo-versions', '0']));
  // an expired pin (a pre-push's, long ago): a dry run reads it and leaves its file; gc removes it
  const expiredPin = path.join(e.dataDir, 'content', 'pins', 'old.json');
  fs.mkdirSync(path.dirname(expiredPin), { recursive: true });
  fs.writeFileSync(expiredPin, JSON.stringify({ created: 1, until: 2, sha256: ['0'.repeat(64)] }) + '\n');
  const tasksBefore = e.json(['task', 'list']).out.length;
  const dry = e.json(['gc', '--dry-run', '--task-retention-days', '0']);
  ok(dry, 'gc dry run');
  assert.equal(dry.out.dryRun, true);
  assert.equal(dry.out.tempFilesRemoved, 1);
  assert.equal(dry.out.workingDirsRemoved, 1);
  assert.ok(dry.out.tasksPruned >= 3);
  assert.ok(fs.existsSync(junk));
  assert.ok(fs.existsSync(expiredPin), 'a dry run deletes no expired pin');
  assert.ok(e.json(['task', 'list']).out.length >= 3);
  ok(e.json(['orphans', 'remove', '--dry-run']), 'orphans dry run');
  assert.equal(e.json(['task', 'list']).out.length, tasksBefore, 'a dry run records no task');
  // now with retention 1 (no prune at update time since updates prune too: check gc's own count is 0 after)
  ok(e.cli(['repo', 'update', 'r', '--retain-repo-versions', '1']));
  assert.deepEqual(e.json(['repo', 'versions', 'r']).out.map((v: any) => v.number), [3]);
  assert.equal(e.json(['orphans', 'list']).out.length, 1);
  const gc = e.json(['gc', '--task-retention-days', '0']);
  ok(gc, 'gc');
  assert.deepEqual([gc.out.orphans.units, gc.out.orphans.files, gc.out.tempFilesRemoved, gc.out.workingDirsRemoved], [1, 1, 1, 1]);
  assert.ok(gc.out.tasksPruned >= 3);
  assert.ok(!fs.existsSync(junk));
  assert.ok(!fs.existsSync(expiredPin), 'gc drops expired pins');
  assert.ok(!fs.existsSync(path.join(e.dataDir, 'working', 'ghost')));
  assert.deepEqual(e.json(['orphans', 'list']).out, []);
  assert.deepEqual(e.json(['task', 'list', '--kind', 'upload']).out, []);
  ok(e.cli(['fsck']), 'fsck after gc');
});

test('gc prunes the records of earlier publishes past the task retention, keeping each distributor\'s latest (a cron job added one per publish, for ever); a dry run counts them and keeps them', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer']));
  ok(e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--distributor-config', 'relative_url=r']));
  for (const n of ['a', 'b', 'c']) {
    ok(e.cli(['content', 'upload', '--repo', 'r', write(e.root, `${n}.txt`, n)]));
    ok(e.cli(['repo', 'publish', 'r']));
  }
  const Database = require_('better-sqlite3') as typeof import('better-sqlite3');
  const count = () => {
    const db = new Database(path.join(e.dataDir, 'engine.db'), { readonly: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM publishes').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  assert.equal(count(), 3);
  const dry = e.json(['gc', '--dry-run', '--task-retention-days', '0']);
  ok(dry, 'gc dry run');
  assert.equal(dry.out.publishesPruned, 2);
  assert.equal(count(), 3);
  const gc = e.json(['gc', '--task-retention-days', '0']);
  ok(gc, 'gc');
  assert.equal(gc.out.publishesPruned, 2);
  assert.equal(count(), 1);
  // The live publish is still known: nothing to publish, fsck checks it.
  const again = e.json(['repo', 'publish', 'r']);
  ok(again, 'publish');
  assert.equal(count(), 1, 'unchanged: not published again');
  const f = e.json(['fsck']);
  ok(f, 'fsck');
  assert.equal(f.out.publishesChecked, 1);
  // Within the retention nothing goes.
  ok(e.cli(['repo', 'publish', 'r', '--force']));
  assert.equal(e.json(['gc']).out.publishesPruned, 0);
  assert.equal(count(), 2);
});

test('a pin file a process was writing when it died (content/pins/<name>.json.<pid>.tmp) is a stray temp file as those of content/tmp are (what fsck reports and gc removes); a live writer\'s is left', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer']));
  const pins = path.join(e.dataDir, 'content', 'pins');
  fs.mkdirSync(pins, { recursive: true });
  const dead = path.join(pins, `push-x.json.${2 ** 22 + 4321}.tmp`);
  const live = path.join(pins, `push-y.json.${process.pid}.tmp`);
  for (const f of [dead, live]) fs.writeFileSync(f, '{"created":1,"until');
  const store = new ContentStore(path.join(e.dataDir, 'content'));
  assert.deepEqual(store.strayTemps(), [dead]);
  assert.equal(store.cleanStrayTemps(), 1);
  assert.deepEqual([fs.existsSync(dead), fs.existsSync(live)], [false, true]);
  fs.rmSync(live);
});

test('fsck: exit 0 only when clean — corrupt or missing stored files, changed published trees', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer']));
  ok(e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--distributor-config', 'relative_url=r']));
  for (const n of ['a', 'b']) ok(e.cli(['content', 'upload', '--repo', 'r', write(e.root, `${n}.txt`, `${n} data`)]));
  ok(e.cli(['repo', 'publish', 'r']));
  const clean = e.json(['fsck']);
  ok(clean, 'clean');
  assert.deepEqual([clean.out.ok, clean.out.integrity, clean.out.filesChecked, clean.out.publishesChecked], [true, 'ok', 2, 1]);
  const [a, b] = e.json(['content', 'list', '--repo', 'r']).out;
  fs.chmodSync(a.storagePath, 0o644);
  fs.writeFileSync(a.storagePath, 'tampered');
  fs.rmSync(b.storagePath);
  const index = path.join(e.dataDir, 'published', 'http', 'r', 'index.json');
  fs.appendFileSync(index, ' ');
  const bad = e.json(['fsck']);
  assert.equal(bad.status, 6);
  const codes = bad.out.problems.map((p: any) => p.code).sort();
  assert.deepEqual(codes, ['ENGINE_FILE_CORRUPT', 'ENGINE_FILE_MISSING', 'ENGINE_PUBLISH_MISMATCH']);
  assert.equal(bad.out.problems.find((p: any) => p.code === 'ENGINE_FILE_CORRUPT').file, a.storagePath);
  assert.equal(bad.out.problems.find((p: any) => p.code === 'ENGINE_FILE_MISSING').file, b.storagePath);
  assert.match(bad.out.problems.find((p: any) => p.code === 'ENGINE_PUBLISH_MISMATCH').message, /index\.json changed/);
  const human = e.cli(['fsck']);
  assert.equal(human.status, 6);
  assert.match(human.stdout, /fsck: 3 problem\(s\)/);
});

test('fsck checks a stored file no unit references but a pin keeps (a pre-push\'s, taken as stored by the push that imports it), and leaves pins as they are', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer']));
  const store = new ContentStore(path.join(e.dataDir, 'content'));
  const kept = store.ingestFile(write(e.root, 'pre.bin', 'pre-pushed'));
  const loose = store.ingestFile(write(e.root, 'loose.bin', 'loose'));
  store.pin('pre-push-x', [kept.sha256], Date.now() + 3600_000);
  store.pin('pre-push-old', [loose.sha256], Date.now() - 1000);
  const clean = e.json(['fsck']);
  ok(clean, 'clean');
  assert.equal(clean.out.filesChecked, 1, 'the pinned file is hashed');
  assert.deepEqual(clean.out.notices.map((n: any) => [n.code, n.file]), [['ENGINE_FILE_UNREFERENCED', loose.path]]);
  assert.ok(fs.existsSync(path.join(store.pinDir, 'pre-push-old.json')), 'an expired pin is gc\'s to remove, not fsck\'s');
  fs.chmodSync(kept.path, 0o644);
  fs.writeFileSync(kept.path, 'tampered');
  const bad = e.json(['fsck']);
  assert.equal(bad.status, 6);
  assert.deepEqual(bad.out.problems.map((p: any) => [p.code, p.file]), [['ENGINE_FILE_CORRUPT', kept.path]]);
  assert.match(bad.out.problems[0].message, /kept by pin pre-push-x/);
});

test('gc counts the versions it prunes: none while a distributor has the oldest live (dry run and real run say the same)', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'r', '--importer', 'test_importer']));
  ok(e.cli(['repo', 'distributor', 'add', 'r', 'test_distributor', '--distributor-config', 'relative_url=r']));
  ok(e.cli(['content', 'upload', '--repo', 'r', write(e.root, 'a.txt', 'a')]));
  ok(e.cli(['repo', 'publish', 'r']));
  ok(e.cli(['repo', 'update', 'r', '--retain-repo-versions', '1']));
  for (const n of ['b', 'c']) ok(e.cli(['content', 'upload', '--repo', 'r', write(e.root, `${n}.txt`, n)]));
  const before = e.json(['repo', 'versions', 'r']).out.map((v: any) => v.number);
  assert.equal(e.json(['gc', '--dry-run']).out.versionsPruned, 0);
  assert.equal(e.json(['gc']).out.versionsPruned, 0);
  assert.deepEqual(e.json(['repo', 'versions', 'r']).out.map((v: any) => v.number), before, 'the live version and those after it stay');
  // Published again: the older versions go, and are counted.
  ok(e.cli(['repo', 'publish', 'r']));
  const dry = e.json(['gc', '--dry-run']).out.versionsPruned;
  assert.ok(dry > 0);
  assert.equal(e.json(['gc']).out.versionsPruned, dry);
  assert.equal(e.json(['repo', 'versions', 'r']).out.length, 1);
});

test('gc --dry-run counts the orphans its pruning would make, as gc then does', () => {
  const e = engineEnv();
  ok(e.cli(['repo', 'create', 'f', '--importer', 'iso_importer', '--retain-repo-versions', '1']));
  ok(e.cli(['repo', 'distributor', 'add', 'f', 'iso_distributor']));
  ok(e.cli(['content', 'upload', '--repo', 'f', write(e.root, 'a.txt', 'a')]));
  ok(e.cli(['repo', 'publish', 'f']));
  ok(e.cli(['content', 'remove', '--repo', 'f', '--filter', 'name=a.txt']));
  ok(e.cli(['content', 'upload', '--repo', 'f', write(e.root, 'b.txt', 'b')]));
  ok(e.cli(['repo', 'publish', 'f']));
  const versions = e.json(['repo', 'versions', 'f']).out.length;
  const dry = e.json(['gc', '--dry-run']).out;
  assert.equal(e.json(['repo', 'versions', 'f']).out.length, versions, 'the dry run pruned nothing');
  const real = e.json(['gc']).out;
  assert.deepEqual([dry.versionsPruned, dry.orphans.units, dry.orphans.files], [real.versionsPruned, real.orphans.units, real.orphans.files]);
  assert.equal(real.orphans.units, 1);
});
