/**
 * Packages a yum publish keeps for clients holding the old metadata survive an orphan clean-up:
 * their units are orphans, their stored files are kept (a symlink entry points at them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { runCli, tempDir } from '../../helpers/cli.js';
import { RPMS } from '../../helpers/push.js';

/** Run a command on `dataDir` without a config; it must exit 0. */
const okIn = (work: string, dataDir: string) => (args: string[]) => {
  const r = runCli(['--data-dir', dataDir, ...args], { env: { STAGEPUSH_CONFIG: '', STAGEPUSH_DATA_DIR: '', XDG_CONFIG_HOME: path.join(work, 'no-xdg') } });
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r;
};

test('gc keeps the stored files of packages a publish keeps for old metadata (symlink pool), and drops them once the threshold has passed', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const ok = okIn(work, dataDir);
  ok(['repo', 'create', 'ys', '--importer', 'yum_importer', '--retain-repo-versions', '1']);
  ok(['repo', 'distributor', 'add', 'ys', 'yum_distributor', '--id', 'yum', '--distributor-config', 'relative_url=ys', '--distributor-config', 'package_link=symlink']);
  const gone = path.join(RPMS, 'demo-hello-1.0-1.noarch.rpm');
  ok(['content', 'upload', '--repo', 'ys', gone, path.join(RPMS, 'demo-tools-2.0-1.noarch.rpm')]);
  ok(['repo', 'publish', 'ys']);
  ok(['content', 'remove', '--repo', 'ys', '--filter', 'name=demo-hello']);
  const pub = JSON.parse(ok(['--json', 'repo', 'publish', 'ys']).stdout) as Array<{ report: { packages_kept_for_old_metadata: number } }>;
  assert.equal(pub[0]!.report.packages_kept_for_old_metadata, 1);
  const gc = JSON.parse(ok(['--json', 'gc']).stdout) as { orphans: { units: number; files: number } };
  assert.deepEqual([gc.orphans.units, gc.orphans.files], [1, 0], 'the orphan unit goes, its file stays');
  const entry = path.join(dataDir, 'published', 'http', 'ys', 'Packages', 'd', 'demo-hello-1.0-1.noarch.rpm');
  assert.ok(existsSync(entry), 'the kept package is still served');
  assert.equal(createHash('sha256').update(readFileSync(entry)).digest('hex'), createHash('sha256').update(readFileSync(gone)).digest('hex'));
  ok(['fsck']);
  // With no threshold left, the next publish drops it and the clean-up may take its file.
  ok(['repo', 'distributor', 'update', 'ys', 'yum', '--distributor-config', 'remove_old_repodata_threshold=0']);
  ok(['repo', 'publish', 'ys', '--force']);
  ok(['repo', 'publish', 'ys', '--force']);
  const gc2 = JSON.parse(ok(['--json', 'gc']).stdout) as { orphans: { files: number } };
  assert.equal(gc2.orphans.files, 1);
  assert.equal(existsSync(entry), false);
  ok(['fsck']);
  // What a distributor keeps goes with the repository.
  ok(['repo', 'distributor', 'update', 'ys', 'yum', '--distributor-config', 'remove_old_repodata=false']);
  ok(['content', 'remove', '--repo', 'ys', '--filter', 'name=demo-tools']);
  ok(['repo', 'publish', 'ys']);
  const pins = () => (existsSync(path.join(dataDir, 'content', 'pins')) ? readdirSync(path.join(dataDir, 'content', 'pins')).filter((f) => f.startsWith('publish-')) : []);
  assert.equal(pins().length, 1, 'kept for ever (remove_old_repodata: false)');
  ok(['repo', 'delete', 'ys']);
  assert.deepEqual(pins(), []);
});

test('the stored files of packages kept for old metadata stay until a publish prunes their entries, also past remove_old_repodata_threshold (gc in between leaves no symlink entry dangling)', async () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const ok = okIn(work, dataDir);
  ok(['repo', 'create', 'ys', '--importer', 'yum_importer', '--retain-repo-versions', '1']);
  ok(['repo', 'distributor', 'add', 'ys', 'yum_distributor', '--id', 'yum', '--distributor-config', 'relative_url=ys', '--distributor-config', 'package_link=symlink', '--distributor-config', 'remove_old_repodata_threshold=1']);
  const gone = path.join(RPMS, 'demo-hello-1.0-1.noarch.rpm');
  ok(['content', 'upload', '--repo', 'ys', gone, path.join(RPMS, 'demo-tools-2.0-1.noarch.rpm')]);
  ok(['repo', 'publish', 'ys']);
  ok(['content', 'remove', '--repo', 'ys', '--filter', 'name=demo-hello']);
  ok(['repo', 'publish', 'ys']);
  const entry = path.join(dataDir, 'published', 'http', 'ys', 'Packages', 'd', 'demo-hello-1.0-1.noarch.rpm');
  assert.ok(existsSync(entry));
  // The threshold passes; no publish yet: the old repodata and the entry are still in the tree.
  await new Promise((r) => setTimeout(r, 2100));
  ok(['gc']);
  assert.ok(existsSync(entry), 'the kept entry still resolves after gc');
  ok(['fsck']);
  // The next publish prunes the entry; then the clean-up takes its file.
  ok(['repo', 'publish', 'ys', '--force']);
  assert.equal(existsSync(entry), false);
  const gc = JSON.parse(ok(['--json', 'gc']).stdout) as { orphans: { files: number } };
  assert.equal(gc.orphans.files, 1);
  ok(['fsck']);
});
