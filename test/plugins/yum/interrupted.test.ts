/**
 * A yum publish killed after its switch (the new tree live, nothing recorded): the next publish
 * still keeps, within remove_old_repodata_threshold, the repodata the tree before it named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, tempDir } from '../../helpers/cli.js';
import { RPMS } from '../../helpers/push.js';

test('a publish killed after its switch: the next publish keeps the repodata of the tree before it (within the threshold)', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const env = { env: { STAGEPUSH_CONFIG: '', STAGEPUSH_DATA_DIR: '', XDG_CONFIG_HOME: path.join(work, 'no-xdg') } };
  const cli = (args: string[], extra: Record<string, string> = {}) => runCli(['--data-dir', dataDir, ...args], { env: { ...env.env, ...extra } });
  const ok = (args: string[]) => {
    const r = cli(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  };
  const live = path.join(dataDir, 'published', 'http', 'r');
  const named = () => [...readFileSync(path.join(live, 'repodata', 'repomd.xml'), 'utf8').matchAll(/<location href="([^"]+)"/g)].map((m) => m[1]!);
  const present = () => new Set(readdirSync(path.join(live, 'repodata')).map((f) => `repodata/${f}`));
  ok(['repo', 'create', 'r', '--importer', 'yum_importer']);
  ok(['repo', 'distributor', 'add', 'r', 'yum_distributor', '--distributor-config', 'relative_url=r']);
  const rpms = ['demo-hello-1.0-1.noarch.rpm', 'demo-hello-1.1-1.noarch.rpm', 'demo-tools-2.0-1.noarch.rpm'].map((f) => path.join(RPMS, f));
  ok(['content', 'upload', '--repo', 'r', rpms[0]!]);
  ok(['repo', 'publish', 'r']);
  const first = named();
  ok(['content', 'upload', '--repo', 'r', rpms[1]!]);
  const killed = cli(['repo', 'publish', 'r'], { STAGEPUSH_CRASH_AT: 'publish:publish-written' });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  const second = named();
  assert.notDeepEqual(second, first, 'the killed publish switched to its tree');
  ok(['content', 'upload', '--repo', 'r', rpms[2]!]);
  ok(['repo', 'publish', 'r']);
  const have = present();
  for (const f of [...first, ...second, ...named()]) assert.ok(have.has(f), `kept: ${f}`);
});

test("repomd.xml's revision grows with every publish, several in one second too", () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const env = { STAGEPUSH_CONFIG: '', STAGEPUSH_DATA_DIR: '', XDG_CONFIG_HOME: path.join(work, 'no-xdg') };
  const ok = (args: string[]) => {
    const r = runCli(['--data-dir', dataDir, ...args], { env });
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  };
  ok(['repo', 'create', 'r', '--importer', 'yum_importer']);
  ok(['repo', 'distributor', 'add', 'r', 'yum_distributor', '--distributor-config', 'relative_url=r']);
  ok(['content', 'upload', '--repo', 'r', path.join(RPMS, 'demo-hello-1.0-1.noarch.rpm')]);
  const revisions: number[] = [];
  for (let i = 0; i < 3; i++) {
    ok(['repo', 'publish', 'r', '--force']);
    revisions.push(Number(/<revision>(\d+)<\/revision>/.exec(readFileSync(path.join(dataDir, 'published', 'http', 'r', 'repodata', 'repomd.xml'), 'utf8'))![1]));
  }
  assert.ok(revisions[0]! < revisions[1]! && revisions[1]! < revisions[2]!, revisions.join(' '));
});
