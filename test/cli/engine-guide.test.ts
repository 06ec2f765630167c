/**
 * The README "Writing a plugin" guide: its code blocks, copied verbatim into a temp plugins dir,
 * make a working directory plugin (a new type, an importer and a distributor), end to end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { engineEnv, finished, waitFor } from '../helpers/engine.js';

function ok(r: { status: number | null; stderr: string; stdout?: string }, what = ''): void {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\n${r.stderr}\n${r.stdout ?? ''}`);
}

/** Fenced blocks whose info string is "js <path>" or "json <path>", from the guide section only. */
function guideFiles(): Record<string, string> {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('### Writing a plugin');
  assert.ok(start >= 0, 'README has a "Writing a plugin" section');
  const rest = readme.slice(start + 1);
  const end = rest.search(/\n##? /);
  const section = end >= 0 ? rest.slice(0, end) : rest;
  const files: Record<string, string> = {};
  for (const m of section.matchAll(/```(?:js|json) (\S+)\n([\s\S]*?)```/g)) files[m[1]!] = m[2]!;
  return files;
}

test('README plugin guide: the example plugin works end to end from the guide alone', async () => {
  const e = engineEnv({ plugin: false });
  const files = guideFiles();
  assert.deepEqual(Object.keys(files).sort(), ['motd/distributor.js', 'motd/importer.js', 'motd/motd.conf', 'motd/package.json', 'motd/types.json']);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(e.pluginsDir, rel)), { recursive: true });
    fs.writeFileSync(path.join(e.pluginsDir, rel), text);
  }
  const pl = e.json(['plugins', 'list']);
  ok(pl, 'plugins list');
  assert.deepEqual(pl.out.errors, []);
  const mine = pl.out.plugins.filter((p: any) => p.id.startsWith('motd_'));
  assert.deepEqual(mine.map((p: any) => [p.id, p.kind, p.types, p.source]), [
    ['motd_importer', 'importer', ['motd'], `dir:${path.join(e.pluginsDir, 'motd')}`],
    ['motd_distributor', 'distributor', ['motd'], `dir:${path.join(e.pluginsDir, 'motd')}`],
  ]);
  assert.deepEqual(mine[0].config, { max_size: 2048 }, 'motd.conf over the entry point config');
  assert.ok(pl.out.types.some((t: any) => t.id === 'motd' && t.unitKey.join() === 'name,checksum'));

  // validated config: a bad one is refused with the plugin's message, nothing is created
  const bad = e.cli(['repo', 'create', 'bad', '--importer', 'motd_importer', '--importer-config', 'max_size=0']);
  assert.equal(bad.status, 3);
  assert.match(bad.stderr, /PLUGIN_CONFIG_INVALID.*motd_importer refused the importer configuration of repository bad: max_size must be a positive integer, got 0/);
  assert.equal(e.json(['repo', 'show', 'bad']).status, 3);
  ok(e.cli(['repo', 'create', 'news', '--importer', 'motd_importer']), 'create');
  assert.equal(fs.readFileSync(path.join(e.json(['repo', 'show', 'news']).out.importer.workingDir, 'README'), 'utf8'), 'motd importer of news\n');
  const badDist = e.cli(['repo', 'distributor', 'add', 'news', 'motd_distributor', '--distributor-config', 'relative_url=/etc']);
  assert.equal(badDist.status, 3);
  assert.match(badDist.stderr, /relative_url must be a relative path of a-z 0-9 \/ _ -, got "\/etc"/);
  ok(e.cli(['repo', 'distributor', 'add', 'news', 'motd_distributor', '--distributor-config', 'relative_url=news']), 'dist add');

  // upload through initUnit/saveUnit; progress in task show
  const hello = path.join(e.root, 'hello.txt');
  fs.writeFileSync(hello, 'Hello, world!\n');
  const up = e.json(['content', 'upload', '--repo', 'news', '--metadata', 'author=ops', hello]);
  ok(up, 'upload');
  assert.equal(e.json(['task', 'show', up.out.taskId]).out.progress.uploaded, 'hello');
  const [unit] = e.json(['content', 'list', '--repo', 'news']).out;
  assert.deepEqual([unit.typeId, unit.unitKey.name, unit.metadata.author, unit.relativePath], ['motd', 'hello', 'ops', 'hello.txt']);
  assert.equal(fs.readFileSync(unit.storagePath, 'utf8'), 'Hello, world!\n');
  assert.ok(unit.storagePath.startsWith(path.join(e.dataDir, 'content', 'sha256')));
  const big = path.join(e.root, 'big.txt');
  fs.writeFileSync(big, 'x'.repeat(3000));
  const tooBig = e.cli(['content', 'upload', '--repo', 'news', big]);
  assert.equal(tooBig.status, 6);
  assert.match(tooBig.stderr, /has 3000 bytes, more than max_size 2048/);

  // copy between repositories shares units
  ok(e.cli(['repo', 'create', 'archive', '--importer', 'motd_importer']));
  ok(e.cli(['content', 'copy', '--from', 'news', '--to', 'archive']), 'copy');
  assert.deepEqual(e.json(['content', 'list', '--repo', 'archive']).out.map((u: any) => u.id), [unit.id]);

  // publish reads units through the conduit; the scratchpad persists between runs
  ok(e.cli(['repo', 'publish', 'news']), 'publish');
  const tree = path.join(e.dataDir, 'published', 'http', 'news');
  assert.equal(fs.readFileSync(path.join(tree, 'hello.txt'), 'utf8'), 'Hello, world!\n');
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(tree, 'index.json'), 'utf8')), { version: 1, publishes: 1, messages: [{ name: 'hello', author: 'ops' }] });
  ok(e.cli(['repo', 'publish', 'news', '--force']), 'publish again');
  assert.equal(JSON.parse(fs.readFileSync(path.join(tree, 'index.json'), 'utf8')).publishes, 2);

  // sync, canceled from another terminal: the content stays as it was
  const feed = path.join(e.root, 'feed');
  fs.mkdirSync(feed);
  for (const n of ['a', 'b', 'c', 'd']) fs.writeFileSync(path.join(feed, `${n}.txt`), `message ${n}\n`);
  ok(e.cli(['repo', 'importer', 'update', 'news', '--importer-config', `feed=${feed}`]), 'set feed');
  const sync = e.spawn(['repo', 'sync', 'news', '--override', 'throttle_ms=3000']);
  const done = finished(sync);
  const t = await waitFor('the sync to report progress', () => e.json(['task', 'list', '--state', 'running']).out.find((x: any) => x.kind === 'sync' && x.progress));
  // Each message takes 3 s; a loaded machine may poll after the second one.
  assert.equal(t.progress.total, 4);
  assert.ok(t.progress.done >= 1 && t.progress.done < 4, `progress ${JSON.stringify(t.progress)}`);
  ok(e.cli(['task', 'cancel', t.id]), 'cancel');
  const s = await done;
  assert.equal(s.status, 130, s.stderr);
  assert.equal(e.json(['task', 'show', t.id]).out.state, 'canceled');
  assert.deepEqual(e.json(['content', 'list', '--repo', 'news']).out.map((u: any) => u.unitKey.name), ['hello']);
  const s2 = e.json(['repo', 'sync', 'news']);
  ok(s2, 'sync');
  assert.deepEqual(s2.out.report, { messages: 4, syncs: 1 }, 'the canceled sync did not touch the scratchpad');
  assert.deepEqual(e.json(['content', 'list', '--repo', 'news']).out.map((u: any) => u.unitKey.name), ['a', 'b', 'c', 'd']);
  assert.deepEqual(e.json(['content', 'list', '--repo', 'archive']).out.map((u: any) => u.unitKey.name), ['hello'], 'units are shared, not moved');
  ok(e.cli(['fsck']), 'fsck');
});
