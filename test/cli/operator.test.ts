/**
 * What an operator or a cron line meets on mistakes: usage errors as JSON with --json, log files
 * and data dirs that cannot be used, a damaged engine database, a mistyped data dir for read-only
 * and clean-up commands, gc options checked before work, -q fsck still telling its problems, a
 * --dest naming no destination, a FIFO given as the configuration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, tempDir } from '../helpers/cli.js';
import { RPMS } from '../helpers/push.js';
import { erratumYaml } from '../helpers/yum.js';

const noConfig = (work: string) => ({ env: { STAGEPUSH_CONFIG: '', STAGEPUSH_DATA_DIR: '', XDG_CONFIG_HOME: path.join(work, 'no-xdg') } });

/** Run a command on `dataDir` without a config; it must exit 0. */
const okIn = (work: string, dataDir: string) => (args: string[]) => {
  const r = runCli(['--data-dir', dataDir, ...args], noConfig(work));
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r;
};

test('operator mistakes: clear coded errors, nothing made where it should not be', () => {
  const work = tempDir();
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const area = path.join(work, 'area');
  mkdirSync(path.join(area, 'el9', 'RPMS'), { recursive: true });
  copyFileSync(path.join(RPMS, 'demo-hello-1.0-1.noarch.rpm'), path.join(area, 'el9', 'RPMS', 'demo-hello-1.0-1.noarch.rpm'));
  const dataDir = path.join(work, 'data');
  const cli = (args: string[]) => runCli(['--config', config, ...args], noConfig(work));
  const noInternal = (r: { stderr: string }) => assert.doesNotMatch(r.stderr, /internal error| {4}at /, r.stderr);

  // A command-line error with --json: the error as JSON on stdout too.
  const bogus = cli(['--json', '--bogus', 'repo', 'list']);
  assert.equal(bogus.status, 2);
  assert.equal(JSON.parse(bogus.stdout).error.code, 'CLI_USAGE');
  // --wait-timeout that is not a number, an empty --data-dir: usage errors.
  assert.equal(cli(['--wait-timeout', 'abc', '--data-dir', dataDir, 'repo', 'list']).status, 2);
  assert.equal(cli(['--data-dir', '', 'repo', 'list']).status, 2);

  // --log-file in a directory that does not exist (none is made), or a directory: usage errors.
  const lost = path.join(work, 'nowhere', 'x.log');
  const lf = cli(['--data-dir', dataDir, 'push', '-q', '--log-file', lost, area]);
  assert.equal(lf.status, 2, lf.stderr);
  assert.match(lf.stderr, /PUSH_LOG_FILE.*does not exist/);
  assert.equal(existsSync(path.dirname(lost)), false);
  const ld = cli(['--data-dir', dataDir, 'push', '-q', '--log-file', work, area]);
  assert.equal(ld.status, 2, ld.stderr);
  noInternal(ld);
  const list = cli(['--data-dir', dataDir, 'push', 'list', '--json']);
  assert.deepEqual(list.status === 0 ? JSON.parse(list.stdout) : [], [], 'no record of pushes that never ran');

  // A data dir that is a file: a coded error, no stack trace.
  const file = path.join(work, 'plain-file');
  writeFileSync(file, 'x');
  const df = cli(['--data-dir', file, 'push', '-q', area]);
  assert.equal(df.status, 6, df.stderr);
  assert.match(df.stderr, /ENGINE_DATA_DIR/);
  noInternal(df);

  // A mistyped data dir: lists say there is nothing, fsck/gc/show fail; nothing is made there.
  const typo = path.join(work, 'typo');
  const rl = cli(['--data-dir', typo, 'repo', 'list', '--json']);
  assert.equal(rl.status, 0, rl.stderr);
  assert.deepEqual(JSON.parse(rl.stdout), []);
  for (const args of [['fsck'], ['gc', '--dry-run'], ['orphans', 'remove'], ['repo', 'show', 'x'], ['task', 'show', '1']]) {
    const r = cli(['--data-dir', typo, ...args]);
    assert.equal(r.status, 3, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /ENGINE_NOT_FOUND/);
  }
  assert.equal(existsSync(typo), false, 'nothing made at a mistyped data dir');

  // A push, then: gc options checked before any work; push show of an unknown id is invalid input.
  assert.equal(cli(['--data-dir', dataDir, 'push', '-q', area]).status, 0);
  const gc = cli(['--data-dir', dataDir, 'gc', '--log-retention-days', 'abc']);
  assert.equal(gc.status, 2);
  const tasks = JSON.parse(cli(['--data-dir', dataDir, 'task', 'list', '--json']).stdout) as Array<{ kind: string }>;
  assert.ok(!tasks.some((t) => t.kind === 'gc'), 'no gc ran');
  assert.equal(cli(['--data-dir', dataDir, 'push', 'show', 'nope']).status, 3);
  // --dest naming no destination: said on stderr (the push itself has nothing to do).
  const dest = cli(['--data-dir', dataDir, 'push', '--dest', 'el8', area]);
  assert.equal(dest.status, 0, dest.stderr);
  assert.match(dest.stderr, /PUSH_DEST_NOT_FOUND.*--dest el8: no such destination in the staging area\(s\) \(found: el9\)/);

  // -q fsck with a problem: exit 6, the problem on stderr.
  const shaDir = path.join(dataDir, 'content', 'sha256');
  const sub = readdirSync(shaDir).find((d) => readdirSync(path.join(shaDir, d)).length)!;
  const stored = path.join(shaDir, sub, readdirSync(path.join(shaDir, sub))[0]!);
  spawnSync('chmod', ['u+w', stored]);
  writeFileSync(stored, 'damaged');
  const fq = cli(['--data-dir', dataDir, '-q', 'fsck']);
  assert.equal(fq.status, 6);
  assert.equal(fq.stdout, '');
  assert.match(fq.stderr, /problem \[/);

  // A damaged engine database: a coded error naming it, from every command, fsck included.
  const broken = path.join(work, 'broken');
  mkdirSync(broken);
  writeFileSync(path.join(broken, 'engine.db'), Buffer.alloc(8192, 7));
  for (const args of [['repo', 'list'], ['fsck']]) {
    const r = cli(['--data-dir', broken, ...args]);
    assert.equal(r.status, 6, r.stderr);
    assert.match(r.stderr, /ENGINE_DB_UNREADABLE.*engine\.db/);
    noInternal(r);
  }

  // A FIFO given as the configuration: refused at once (reading it would block).
  const fifo = path.join(work, 'fifo.yaml');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const t0 = Date.now();
  const ff = runCli(['--config', fifo, '--data-dir', dataDir, 'repo', 'list'], { ...noConfig(work), timeout: 20_000 });
  assert.equal(ff.status, 3, ff.stderr);
  assert.match(ff.stderr, /not a regular file/);
  assert.ok(Date.now() - t0 < 15_000);
});

test('config check refuses importer and distributor types that are not installed, naming key and line', () => {
  const work = tempDir();
  const file = path.join(work, 'c.yaml');
  writeFileSync(file, 'repositories:\n  el:\n    type: yum\n    importer: {type_id: nope_importer}\n    distributors:\n      - {type_id: nope_distributor}\n');
  const r = runCli(['--data-dir', path.join(work, 'data'), '--json', 'config', 'check', file], noConfig(work));
  assert.equal(r.status, 3, r.stderr);
  const problems = (JSON.parse(r.stdout) as { error: { problems: Array<{ code: string; field: string; entry: string }> } }).error.problems;
  assert.deepEqual(problems.map((p) => `${p.code} ${p.field} ${p.entry}`), ['CONFIG_UNKNOWN_PLUGIN repositories.el.importer.type_id line 4', 'CONFIG_UNKNOWN_PLUGIN repositories.el.distributors.0.type_id line 6']);
  assert.equal(existsSync(path.join(work, 'data')), false, 'config check makes nothing');
});

/** A data dir under a fresh temp dir, no config; `ok` runs a command and wants exit 0. */
function operatorCli() {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const cli = (args: string[]) => runCli(['--data-dir', dataDir, ...args], noConfig(work));
  const ok = (args: string[]) => {
    const r = cli(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  return { work, dataDir, cli, ok };
}

test('orphan clean-up keeps the files of the version a distributor has live (symlinked trees); fsck reports a published symlink whose target is gone', () => {
  const { work, dataDir, cli, ok } = operatorCli();
  writeFileSync(path.join(work, 'one.txt'), 'one\n');
  writeFileSync(path.join(work, 'two.txt'), 'two\n');
  ok(['repo', 'create', 'f', '--importer', 'iso_importer']);
  ok(['repo', 'update', 'f', '--retain-repo-versions', '1']);
  ok(['repo', 'distributor', 'add', 'f', 'iso_distributor', '--id', 'iso', '--distributor-config', 'file_link=symlink']);
  ok(['content', 'upload', '--repo', 'f', '--type', 'iso', path.join(work, 'one.txt'), path.join(work, 'two.txt')]);
  ok(['repo', 'publish', 'f']);
  // A new version without two.txt, not published yet; versions beyond retention pruned; orphans removed.
  ok(['content', 'remove', '--repo', 'f', '--filter', 'name=two.txt']);
  ok(['gc']);
  ok(['orphans', 'remove']);
  const live = path.join(dataDir, 'published', 'http', 'f', 'two.txt');
  assert.equal(readFileSync(live, 'utf8'), 'two\n', 'the live tree still serves it');
  ok(['fsck']);
  // Published, the new version drops it; then a stored file removed by hand: fsck says which link dangles.
  ok(['repo', 'publish', 'f']);
  const one = path.join(dataDir, 'published', 'http', 'f', 'one.txt');
  const target = realpathSync(one);
  rmSync(target);
  const f = cli(['fsck']);
  assert.equal(f.status, 6, f.stdout);
  assert.match(f.stdout, /one\.txt points to .* which does not exist/);
});

test('content upload copies an RPM into the store: rewriting the uploaded file afterwards changes nothing stored or published', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const cli = (args: string[]) => runCli(['--data-dir', dataDir, ...args], noConfig(work));
  const mine = path.join(work, 'demo-hello-1.0-1.noarch.rpm');
  copyFileSync(path.join(RPMS, 'demo-hello-1.0-1.noarch.rpm'), mine);
  for (const args of [['repo', 'create', 'r', '--importer', 'yum_importer'], ['repo', 'distributor', 'add', 'r', 'yum_distributor', '--id', 'yum'], ['content', 'upload', '--repo', 'r', mine], ['repo', 'publish', 'r']]) {
    const r = cli(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.equal(statSync(mine).nlink, 1, 'the uploaded file is not linked into the store');
  // A corrupt one is said of the user's file, not of the store's temporary copy.
  const bad = path.join(work, 'bad.rpm');
  writeFileSync(bad, 'garbage\n');
  const refused = cli(['content', 'upload', '--repo', 'r', '--type', 'rpm', bad]);
  assert.equal(refused.status, 3, refused.stderr);
  assert.match(refused.stderr, new RegExp(`RPM_TRUNCATED\\]: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: truncated`));
  assert.doesNotMatch(refused.stderr, /content\/tmp/);
  // The user's file rewritten in place (cp keeps the inode).
  writeFileSync(mine, readFileSync(path.join(RPMS, 'demo-hello-1.1-1.noarch.rpm')));
  const f = cli(['fsck']);
  assert.equal(f.status, 0, f.stdout + f.stderr);
});

/** Repository r (yum_importer, yum_distributor "yum") holding demo-hello 1.0, published. */
function publishedYumRepo(work: string, ok: (args: string[]) => unknown): void {
  const rpm = path.join(work, 'demo-hello-1.0-1.noarch.rpm');
  copyFileSync(path.join(RPMS, 'demo-hello-1.0-1.noarch.rpm'), rpm);
  ok(['repo', 'create', 'r', '--importer', 'yum_importer']);
  ok(['repo', 'distributor', 'add', 'r', 'yum_distributor', '--id', 'yum']);
  ok(['content', 'upload', '--repo', 'r', rpm]);
  ok(['repo', 'publish', 'r']);
}

test('fsck checks the yum Packages/ pool: a package gone from it (a 404 for dnf) is a problem; a forced publish puts it back', () => {
  const { work, cli, ok } = operatorCli();
  publishedYumRepo(work, ok);
  ok(['fsck']);
  const entry = realpathSync(path.join(work, 'data', 'published', 'http', 'r', 'Packages', 'd', 'demo-hello-1.0-1.noarch.rpm'));
  rmSync(entry);
  const f = cli(['fsck']);
  assert.equal(f.status, 6, f.stdout + f.stderr);
  assert.match(f.stdout + f.stderr, /demo-hello-1\.0-1\.noarch\.rpm is missing \(package sha256 [0-9a-f]{64}\)/);
  ok(['repo', 'publish', 'r', '--force']);
  assert.ok(existsSync(entry), 'the publish put the entry back');
  ok(['fsck']);
  // The whole pool gone (its manifest too): the Packages link dangles.
  const pool = path.dirname(path.dirname(entry));
  rmSync(pool, { recursive: true });
  rmSync(`${pool}.json`, { force: true });
  const g = cli(['fsck']);
  assert.equal(g.status, 6, g.stdout + g.stderr);
  assert.match(g.stdout + g.stderr, /Packages points to \.\.\/packages-auto, which does not exist/);
});

test('fsck: a RAW tree\'s own dangling symlink is as published (clean); damage after a publish that failed before its switch is a problem, not a notice', () => {
  const { work, dataDir, cli, ok } = operatorCli();
  const tree = path.join(work, 'tree');
  mkdirSync(tree);
  writeFileSync(path.join(tree, 'a'), 'a\n');
  symlinkSync('not-shipped', path.join(tree, 'link'));
  ok(['repo', 'create', 'ks', '--importer', 'generic_importer']);
  ok(['repo', 'distributor', 'add', 'ks', 'directory_distributor']);
  ok(['content', 'upload', '--repo', 'ks', '--type', 'directory', tree]);
  ok(['repo', 'publish', 'ks']);
  ok(['fsck']);

  publishedYumRepo(work, ok);
  const bad = path.join(work, 'bad');
  mkdirSync(path.join(bad, 'repodata'), { recursive: true });
  writeFileSync(path.join(bad, 'repodata', 'f'), 'x\n');
  ok(['content', 'upload', '--repo', 'r', '--type', 'directory', bad]);
  assert.notEqual(cli(['repo', 'publish', 'r']).status, 0, 'refused: a path collision, nothing written');
  rmSync(realpathSync(path.join(dataDir, 'published', 'http', 'r', 'Packages', 'd', 'demo-hello-1.0-1.noarch.rpm')));
  const f = cli(['fsck']);
  assert.equal(f.status, 6, f.stdout + f.stderr);
  assert.match(f.stdout + f.stderr, /problem \[ENGINE_PUBLISH_MISMATCH\].*demo-hello-1\.0-1\.noarch\.rpm is missing/);
});

test('content copy hands the importer whole units whatever --fields says: a recursive copy of an advisory brings its packages, and the advisory keeps its text', () => {
  const { work, ok } = operatorCli();
  const rpm = path.join(work, 'demo-hello-1.0-1.noarch.rpm');
  copyFileSync(path.join(RPMS, 'demo-hello-1.0-1.noarch.rpm'), rpm);
  const e1 = path.join(work, 'e1.yaml');
  writeFileSync(e1, erratumYaml({ id: 'EX-9', title: 'the title', packages: [{ name: 'demo-hello', version: '1.0', release: '1' }] }));
  for (const r of ['A', 'B']) ok(['repo', 'create', r, '--importer', 'yum_importer']);
  ok(['content', 'upload', '--repo', 'A', rpm, e1]);
  ok(['content', 'copy', '--from', 'A', '--to', 'B', '--type', 'erratum', '--fields', 'title', '--override', 'recursive=true']);
  const units = JSON.parse(ok(['content', 'list', '--repo', 'B', '--json']).stdout) as Array<{ typeId: string; unitKey: Record<string, unknown>; metadata: Record<string, unknown> }>;
  assert.deepEqual(units.map((u) => u.typeId).sort(), ['erratum', 'rpm']);
  const adv = units.find((u) => u.typeId === 'erratum')!;
  assert.equal(adv.metadata.title, 'the title');
  assert.ok(Array.isArray(adv.metadata.pkglist) && (adv.metadata.pkglist as unknown[]).length === 1, JSON.stringify(adv.metadata).slice(0, 300));
});

test('an advisory is one unit shared by the repositories holding it: an upload elsewhere merges with it (package lists kept, never an older version)', () => {
  const { work, ok } = operatorCli();
  const e1 = path.join(work, 'e1.yaml');
  const e2 = path.join(work, 'e2.yaml');
  writeFileSync(e1, erratumYaml({ id: 'EX-1', updated: '2026-01-01 00:00:00', version: '1', packages: [{ name: 'foo', version: '1.0', release: '1' }] }));
  writeFileSync(e2, erratumYaml({ id: 'EX-1', updated: '2026-02-01 00:00:00', version: '2', packages: [{ name: 'bar', version: '1.0', release: '1' }] }));
  for (const r of ['A', 'B', 'C']) ok(['repo', 'create', r, '--importer', 'yum_importer']);
  ok(['content', 'upload', '--repo', 'A', e1]);
  const versionOf = (repo: string) => (JSON.parse(ok(['repo', 'show', repo, '--json']).stdout) as { version: number }).version;
  const a1 = versionOf('A');
  ok(['content', 'upload', '--repo', 'B', e2]);
  // A holds the advisory B's upload changed: A's content changed, so A has a new version.
  assert.equal(versionOf('A'), a1 + 1);
  const advisory = (repo: string) => (JSON.parse(ok(['content', 'list', '--repo', repo, '--type', 'erratum', '--json']).stdout) as Array<{ metadata: { version: string; pkglist: Array<{ packages: Array<{ name: string }> }> } }>)[0]!.metadata;
  const names = (m: ReturnType<typeof advisory>) => m.pkglist.flatMap((c) => c.packages.map((p) => p.name)).sort();
  assert.equal(advisory('A').version, '2');
  assert.deepEqual(names(advisory('A')), ['bar', 'foo'], "A's package list is kept");
  // The older text uploaded to a third repository moves nobody back.
  ok(['content', 'upload', '--repo', 'C', e1]);
  assert.equal(advisory('B').version, '2');
  assert.equal(advisory('C').version, '2');
  assert.deepEqual(names(advisory('B')), ['bar', 'foo']);
});

test('a mistyped data dir: every command naming a repository (but repo create) fails saying where it looked, and makes no engine there', () => {
  const work = tempDir();
  const typo = path.join(work, 'typo');
  const note = path.join(work, 'n.txt');
  writeFileSync(note, 'n\n');
  const cli = (args: string[]) => runCli(['--data-dir', typo, ...args], noConfig(work));
  for (const args of [
    ['repo', 'versions', 'x'],
    ['repo', 'distributor', 'list', 'x'],
    ['repo', 'publish', 'x'],
    ['repo', 'sync', 'x'],
    ['repo', 'rollback', 'x', '--to', '0'],
    ['repo', 'update', 'x', '--display-name', 'y'],
    ['repo', 'delete', 'x'],
    ['repo', 'importer', 'set', 'x', 'iso_importer'],
    ['repo', 'importer', 'update', 'x', '--importer-config', 'retries=1'],
    ['repo', 'distributor', 'add', 'x', 'iso_distributor'],
    ['repo', 'distributor', 'update', 'x', 'd', '--auto-publish'],
    ['repo', 'distributor', 'remove', 'x', 'd'],
    ['content', 'upload', '--repo', 'x', note],
    ['content', 'copy', '--from', 'x', '--to', 'y'],
    ['content', 'remove', '--repo', 'x', '--all'],
  ]) {
    const r = cli(args);
    assert.equal(r.status, 3, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`ENGINE_NOT_FOUND.*no engine in ${typo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), args.join(' '));
    assert.equal(existsSync(typo), false, `${args.join(' ')}: nothing made at a mistyped data dir`);
  }
  // repo create makes the engine.
  assert.equal(cli(['repo', 'create', 'x']).status, 0);
  assert.equal(cli(['repo', 'versions', 'x']).status, 0);
});

test('a rollback says which units were changed in place since the version it restores (an advisory is one unit per id): they keep their current content', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const ok = okIn(work, dataDir);
  ok(['repo', 'create', 'ye', '--importer', 'yum_importer']);
  const adv = (name: string, title: string, updated: string) => {
    const f = path.join(work, name);
    writeFileSync(f, erratumYaml({ id: 'RB-2026:0001', title, updated, packages: [{ name: 'demo-tools', version: '2.0', release: '1' }] }));
    return f;
  };
  ok(['content', 'upload', '--repo', 'ye', '--type', 'erratum', adv('a1.yaml', 'first title', '2026-01-01 00:00:00')]);
  ok(['content', 'upload', '--repo', 'ye', path.join(RPMS, 'demo-tools-2.0-1.noarch.rpm')]);
  ok(['content', 'upload', '--repo', 'ye', '--type', 'erratum', adv('a2.yaml', 'new title', '2026-02-01 00:00:00')]);
  const text = ok(['repo', 'rollback', 'ye', '--to', '1']).stdout;
  assert.match(text, /has the units of version 1 \(\+0 -1\)/);
  assert.match(text, /1 unit\(s\) were changed in place since version 1 .* keep their current content:\n {4}erratum RB-2026:0001/);
  const json = JSON.parse(ok(['repo', 'rollback', 'ye', '--to', '2', '--json']).stdout) as { report: { changedInPlaceSince?: Array<{ typeId: string; unitKey: Record<string, string> }> } };
  assert.deepEqual(json.report.changedInPlaceSince, [{ typeId: 'erratum', unitKey: { id: 'RB-2026:0001' } }]);
  // A version after the change has nothing changed since.
  const latest = JSON.parse(ok(['repo', 'rollback', 'ye', '--to', '3', '--json']).stdout) as { report: Record<string, unknown> };
  assert.equal(latest.report.changedInPlaceSince, undefined);
});

test('repo show says where a yum distributor publishes and where its last publish is, when not the same place (relative_url changed, not published there yet), or that it has not published', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const ok = okIn(work, dataDir);
  ok(['repo', 'create', 'ys', '--importer', 'yum_importer']);
  ok(['repo', 'distributor', 'add', 'ys', 'yum_distributor', '--id', 'yum', '--distributor-config', 'relative_url=old/place']);
  const http = (rel: string) => path.join(dataDir, 'published', 'http', rel);
  assert.match(ok(['repo', 'show', 'ys']).stdout, new RegExp(`yum: publishes at ${http('old/place')} \\(not published yet\\)`));
  ok(['content', 'upload', '--repo', 'ys', path.join(RPMS, 'demo-tools-2.0-1.noarch.rpm')]);
  ok(['repo', 'publish', 'ys']);
  assert.match(ok(['repo', 'show', 'ys']).stdout, new RegExp(`yum: published at ${http('old/place')}\\n`));
  ok(['repo', 'distributor', 'update', 'ys', 'yum', '--distributor-config', 'relative_url=new/place']);
  assert.match(ok(['repo', 'show', 'ys']).stdout, new RegExp(`yum: publishes at ${http('new/place')}; version 1 is published at ${http('old/place')} \\(its last successful publish\\)`));
});
