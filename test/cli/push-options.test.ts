/**
 * Issue 5 from the command line, on small staging areas: repository policies from the config
 * file (one destination feeding two repositories, a named template for unknown destinations,
 * retain_old_count, duplicate_nevra: refuse), --force-publish, -q, --progress ndjson, and the
 * refusals (DOCKER, a destination holding yum and file content, unknown_destination: error).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EXIT } from '../../src/errors.js';
import { ROOT, runCli, spawnCli, tempDir } from '../helpers/cli.js';
import { COMPS, keyIds, MODULES, push, RPMS, sha256, writeStagedYaml } from '../helpers/push.js';
import { AMI_ATTRS, stagedYaml } from '../helpers/staged.js';
import { buildRpm } from '../../src/formats/rpm/writer.js';
import { readRpmFileSync } from '../../src/formats/rpm/read.js';
import { TAG } from '../../src/formats/rpm/tags.js';

function put(file: string, content: string | Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
}

/**
 * Run `fn` with a tmpfs of `size` mounted on `dir` (made; unmounted after); the test is skipped, saying
 * why (and `also`), where no tmpfs can be mounted (not root).
 */
function withTmpfs(t: TestContext, dir: string, size: string, fn: () => void, also = ''): void {
  mkdirSync(dir, { recursive: true });
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mount.status !== 0) {
    t.skip(`cannot mount a tmpfs here (${mount.stderr.trim()})${also}`);
    return;
  }
  try {
    fn();
  } finally {
    spawnSync('umount', [dir]);
  }
}

function rpm(root: string, dest: string, name: string): string {
  const f = path.join(root, dest, 'RPMS', name);
  mkdirSync(path.dirname(f), { recursive: true });
  copyFileSync(path.join(RPMS, name), f);
  return f;
}

interface Report {
  exit_status: number;
  items: Array<{ repository: string; unit: string; action: string; reason?: string }>;
  repositories: Array<{ id: string; origin: string; status: string; version: number; previous_version: number }>;
  problems: Array<{ code: string; file?: string; entry?: string; message: string }>;
}

test('config policies end to end: one destination → two repositories, named template, retain_old_count, duplicate_nevra refuse, --force-publish, -q, ndjson', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(
    config,
    [
      'allow_unsigned: true',
      'unknown_destination: template:mytpl',
      'templates:',
      '  mytpl: {template: yum, display_name: made from mytpl}',
      'repositories:',
      '  r1: {type: yum, destinations: [d1]}',
      '  r2: {type: yum, destinations: [d1], retain_old_count: 0, duplicate_nevra: refuse}',
      '',
    ].join('\n'),
  );
  const root = path.join(work, 'area');
  rpm(root, 'd1', 'demo-hello-1.0-1.noarch.rpm');
  const hello11 = rpm(root, 'd1', 'demo-hello-1.1-1.noarch.rpm');
  rpm(root, 'odd', 'demo-tools-2.0-1.noarch.rpm');

  // -q: nothing at all on success.
  const q = push(['-q', root], { dataDir, config });
  assert.equal(q.status, 0, q.stderr);
  assert.equal(q.stdout + q.stderr, '');
  const units = (repo: string) => {
    const r = runCli(['--data-dir', dataDir, '--config', config, 'content', 'list', '--repo', repo, '--json']);
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as Array<{ unitKey: { name: string; version: string } }>).map((u) => `${u.unitKey.name}-${u.unitKey.version}`).sort();
  };
  assert.deepEqual(units('r1'), ['demo-hello-1.0', 'demo-hello-1.1']);
  assert.deepEqual(units('r2'), ['demo-hello-1.1'], 'retain_old_count: 0 keeps the newest only');
  const odd = runCli(['--data-dir', dataDir, '--config', config, 'repo', 'show', 'odd', '--json']);
  assert.equal(JSON.parse(odd.stdout).displayName, 'made from mytpl');

  // --force-publish republishes unchanged repositories (no new version); ndjson events on stderr.
  const f = push(['--json', '--force-publish', '--progress', 'ndjson', root], { dataDir, config });
  assert.equal(f.status, 0, f.stderr);
  const rep = JSON.parse(f.stdout) as Report;
  assert.ok(rep.items.every((i) => i.action === 'unchanged'), JSON.stringify(rep.items));
  assert.deepEqual(rep.repositories.map((r) => `${r.id}:${r.origin}:${r.status}:${r.previous_version}->${r.version}`), ['odd:template:mytpl:published:1->1', 'r1:config:published:1->1', 'r2:config:published:1->1']);
  const events = f.stderr.trim().split('\n').map((l) => JSON.parse(l) as { type: string; phase?: string });
  assert.ok(events.every((e) => typeof e.type === 'string'));
  for (const phase of ['load', 'checksum', 'import', 'publish']) assert.ok(events.some((e) => e.type === 'phase-start' && e.phase === phase), phase);

  // The same NEVRA with another sha256: r2 refuses it (exit 4), so nothing changes in r1 either,
  // and the repository a new destination would have got is not left behind.
  assert.equal(spawnSync('rpmsign', ['--delsign', hello11]).status, 0);
  rpm(root, 'fresh', 'demo-other-1.0-1.noarch.rpm');
  const repoIds = () => (JSON.parse(runCli(['--data-dir', dataDir, '--config', config, 'repo', 'list', '--json']).stdout) as Array<{ id: string }>).map((r) => r.id).sort();
  assert.deepEqual(repoIds(), ['odd', 'r1', 'r2']);
  const d = push(['--json', root], { dataDir, config });
  assert.equal(d.status, 4, d.stderr);
  const refused = JSON.parse(d.stdout) as Report;
  assert.deepEqual(refused.problems.map((p) => p.code), ['PUSH_DUPLICATE_NEVRA']);
  assert.match(refused.problems[0]!.message, /demo-hello-0:1\.1-1\.noarch is already in r2/);
  // The report lists what failed, not what the push would have done.
  assert.deepEqual(refused.items.map((i) => `${i.repository} ${i.unit} ${i.action}`), ['r2 rpm:demo-hello-0:1.1-1.noarch failed']);
  assert.deepEqual(repoIds(), ['odd', 'r1', 'r2'], 'the refused push created no repository');
  assert.equal(existsSync(path.join(dataDir, 'working', 'fresh')), false);
  assert.deepEqual(units('r1'), ['demo-hello-1.0', 'demo-hello-1.1']);
  assert.equal((JSON.parse(runCli(['--data-dir', dataDir, '--config', config, 'repo', 'show', 'r1', '--json']).stdout) as { version: number }).version, 1);
});

test('what the report calls removed or replaced leaves the repository: retain_old_count across pushes, duplicate_nevra: replace', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, ['allow_unsigned: true', 'repositories:', '  keep: {type: yum, destinations: [d1]}', '  newest: {type: yum, destinations: [d1], retain_old_count: 0}', ''].join('\n'));
  const root = path.join(work, 'area');
  const hello10 = rpm(root, 'd1', 'demo-hello-1.0-1.noarch.rpm');
  const units = (repo: string) => {
    const r = runCli(['--data-dir', dataDir, '--config', config, 'content', 'list', '--repo', repo, '--json']);
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as Array<{ unitKey: { name: string; version: string; checksum: string } }>).map((u) => `${u.unitKey.name}-${u.unitKey.version} ${u.unitKey.checksum}`).sort();
  };
  const primaryNames = (repo: string) => {
    const dir = path.join(dataDir, 'published', 'http', repo);
    const r = spawnSync('createrepo_c', ['--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, 'createrepo_c is installed');
    const repomd = readFileSync(path.join(dir, 'repodata', 'repomd.xml'), 'utf8');
    const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1]!;
    const xml = spawnSync('zcat', ['-f', path.join(dir, href)], { encoding: 'utf8' }).stdout;
    return [...xml.matchAll(/<location href="([^"]+)"/g)].map((m) => path.basename(m[1]!)).sort();
  };
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  const sum10 = sha256(readFileSync(hello10));
  assert.deepEqual(units('newest'), [`demo-hello-1.0 ${sum10}`]);

  // A newer build: the older one leaves `newest` (retain_old_count: 0), `keep` holds both.
  const hello11 = rpm(root, 'd1', 'demo-hello-1.1-1.noarch.rpm');
  const sum11 = sha256(readFileSync(hello11));
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  // Staged and stored, now outnumbered: one entry, removed (not also "unchanged").
  assert.deepEqual(rep.items.filter((i) => i.repository === 'newest' && i.unit === 'rpm:demo-hello-0:1.0-1.noarch').map((i) => i.action), ['removed'], JSON.stringify(rep.items));
  assert.deepEqual(units('newest'), [`demo-hello-1.1 ${sum11}`]);
  assert.deepEqual(units('keep'), [`demo-hello-1.0 ${sum10}`, `demo-hello-1.1 ${sum11}`]);
  assert.deepEqual(primaryNames('newest'), ['demo-hello-1.1-1.noarch.rpm']);

  // The same NEVRA rebuilt (another sha256): replaced, and the old build is gone.
  assert.equal(spawnSync('rpmsign', ['--delsign', hello11]).status, 0);
  const sum11b = sha256(readFileSync(hello11));
  assert.notEqual(sum11b, sum11);
  const b = push(['--json', root], { dataDir, config });
  assert.equal(b.status, 0, b.stderr);
  const repB = JSON.parse(b.stdout) as Report;
  assert.deepEqual(repB.items.filter((i) => i.action !== 'unchanged').map((i) => `${i.repository} ${i.unit} ${i.action}`).sort(), ['keep rpm:demo-hello-0:1.1-1.noarch replaced', 'newest rpm:demo-hello-0:1.1-1.noarch replaced']);
  assert.deepEqual(units('keep'), [`demo-hello-1.0 ${sum10}`, `demo-hello-1.1 ${sum11b}`]);
  assert.deepEqual(units('newest'), [`demo-hello-1.1 ${sum11b}`]);
  // The rebuilt file has a name of its own: the old one stays as it was for clients holding the old metadata.
  assert.deepEqual(primaryNames('keep'), [`${sum11b.slice(0, 12)}-demo-hello-1.1-1.noarch.rpm`, 'demo-hello-1.0-1.noarch.rpm']);

  // Nothing left to do.
  const again = push(['--json', root], { dataDir, config });
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual((JSON.parse(again.stdout) as Report).items.filter((i) => i.action !== 'unchanged'), []);
});

test('retain_old_count keeps the packages a module stream of the repository lists as artifacts (staged with the stream, or after it): only non-modular packages are counted', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, ['allow_unsigned: true', 'repositories:', '  same: {type: yum, destinations: [d1], retain_old_count: 0}', '  later: {type: yum, destinations: [d2], retain_old_count: 0}', ''].join('\n'));
  const root = path.join(work, 'area');
  // Stream 1 of hmod is demo-hello 1.0; 1.1 is a newer non-modular build of the name.
  const modules = '---\ndocument: modulemd\nversion: 2\ndata: {name: hmod, stream: "1", version: 1, context: aaaa0001, arch: noarch, summary: s, description: d, license: {module: [MIT]}, profiles: {default: {rpms: [demo-hello]}}, artifacts: {rpms: [demo-hello-0:1.0-1.noarch]}}\n...\n';
  put(path.join(root, 'd1', 'MODULEMD', 'modules.yaml'), modules);
  put(path.join(root, 'd2', 'MODULEMD', 'modules.yaml'), modules);
  for (const name of ['demo-hello-1.0-1.noarch.rpm', 'demo-hello-1.1-1.noarch.rpm']) rpm(root, 'd1', name);
  // d2: the stream first, its packages in a later push.
  assert.equal(push(['-q', '--dest', 'd2', root], { dataDir, config }).status, 0);
  for (const name of ['demo-hello-1.0-1.noarch.rpm', 'demo-hello-1.1-1.noarch.rpm']) rpm(root, 'd2', name);
  const primaryNames = (repo: string) => {
    const dir = path.join(dataDir, 'published', 'http', repo);
    const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(readFileSync(path.join(dir, 'repodata', 'repomd.xml'), 'utf8'))![1]!;
    const xml = spawnSync('zcat', ['-f', path.join(dir, href)], { encoding: 'utf8' }).stdout;
    return [...xml.matchAll(/<location href="([^"]+)"/g)].map((m) => path.basename(m[1]!)).sort();
  };
  for (const args of [['--dry-run', '--json', root], ['--json', root]]) {
    const r = push(args, { dataDir, config });
    assert.equal(r.status, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.deepEqual(
      rep.items.filter((i) => i.unit.startsWith('rpm:')).map((i) => `${i.repository} ${i.unit} ${i.action}`).sort(),
      ['later rpm:demo-hello-0:1.0-1.noarch pushed', 'later rpm:demo-hello-0:1.1-1.noarch pushed', 'same rpm:demo-hello-0:1.0-1.noarch pushed', 'same rpm:demo-hello-0:1.1-1.noarch pushed'],
      `${args[0]}: ${JSON.stringify(rep.items)}`,
    );
  }
  assert.deepEqual(primaryNames('same'), ['demo-hello-1.0-1.noarch.rpm', 'demo-hello-1.1-1.noarch.rpm']);
  assert.deepEqual(primaryNames('later'), ['demo-hello-1.0-1.noarch.rpm', 'demo-hello-1.1-1.noarch.rpm']);
  // Without the stream, the older build is not kept.
  rmSync(path.join(root, 'd1', 'MODULEMD'), { recursive: true });
  writeFileSync(config, ['allow_unsigned: true', 'repositories:', '  same: {type: yum, destinations: [d1], retain_old_count: 0, push_mode: mirror}', '  later: {type: yum, destinations: [d2], retain_old_count: 0}', ''].join('\n'));
  assert.equal(push(['-q', '--dest', 'd1', root], { dataDir, config }).status, 0);
  assert.deepEqual(primaryNames('same'), ['demo-hello-1.1-1.noarch.rpm']);
});

test('a mirror fed by a destination the filters leave out removes nothing this time (warned); an --exclude-dest naming nothing known is warned', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, ['allow_unsigned: true', 'repositories:', '  both: {type: yum, destinations: [d1, d2], push_mode: mirror}', ''].join('\n'));
  const root = path.join(work, 'area');
  rpm(root, 'd1', 'demo-hello-1.0-1.noarch.rpm');
  rpm(root, 'd2', 'demo-hello-1.1-1.noarch.rpm');
  const names = () => {
    const r = runCli(['--data-dir', dataDir, '--config', config, 'content', 'list', '--repo', 'both', '--json']);
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as Array<{ unitKey: { name: string; version: string } }>).map((u) => `${u.unitKey.name}-${u.unitKey.version}`).sort();
  };
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  assert.deepEqual(names(), ['demo-hello-1.0', 'demo-hello-1.1']);
  // d2 left out: its package stays (the mirror is held), with a warning saying why.
  const r = push(['--json', '--exclude-dest', 'd2', root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Report & { warnings: Array<{ code: string; message: string }> };
  assert.deepEqual(rep.items.filter((i) => i.action !== 'unchanged'), []);
  assert.ok(rep.warnings.some((w) => w.code === 'PUSH_MIRROR_HELD' && /d2/.test(w.message)), JSON.stringify(rep.warnings));
  assert.deepEqual(names(), ['demo-hello-1.0', 'demo-hello-1.1']);
  const only = push(['--json', '--dest', 'd1', root], { dataDir, config });
  assert.equal(only.status, 0, only.stderr);
  assert.deepEqual(names(), ['demo-hello-1.0', 'demo-hello-1.1']);
  // A typo in --exclude-dest: said, and the push goes on (nothing was left out by it).
  const typo = push(['--exclude-dest', 'd3', root], { dataDir, config });
  assert.equal(typo.status, 0, typo.stderr);
  assert.match(typo.stderr, /--exclude-dest d3: no such destination/);
  // Unfiltered, the mirror removes what is absent: d2's package once it is gone from the area.
  rmSync(path.join(root, 'd2'), { recursive: true });
  const full = push(['--json', root], { dataDir, config });
  assert.equal(full.status, 0, full.stderr);
  assert.deepEqual(names(), ['demo-hello-1.0']);
});

test('refused as invalid input (exit 3), every problem listed: DOCKER, yum and file content in one destination, unknown_destination: error', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const root = path.join(work, 'area');
  rpm(root, 'mix', 'demo-tools-2.0-1.noarch.rpm');
  put(path.join(root, 'mix', 'FILES', 'x.txt'), 'x\n');
  put(path.join(root, 'staged.yaml'), `header:\n  version: "0.2"\npayload:\n  files:\n    - relative_path: mix/FILES/x.txt\n      sha256sum: ${sha256('x\n')}\n      version: "1"\n`);
  put(path.join(root, 'dock', 'DOCKER', 'image.tar'), 'not pushed\n');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 3, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  assert.deepEqual(rep.problems.map((p) => p.code).sort(), ['PUSH_MIXED_DESTINATION', 'PUSH_UNSUPPORTED_CONTENT']);
  const mixed = rep.problems.find((p) => p.code === 'PUSH_MIXED_DESTINATION')!;
  assert.match(mixed.message, /demo-tools-2\.0-1\.noarch\.rpm/);
  assert.match(mixed.message, /x\.txt/);
  assert.match(rep.problems.find((p) => p.code === 'PUSH_UNSUPPORTED_CONTENT')!.file!, /DOCKER\/image\.tar$/);

  const strict = path.join(work, 'strict.yaml');
  writeFileSync(strict, 'allow_unsigned: true\nunknown_destination: error\nrepositories:\n  known: {type: yum, destinations: [d1, d2]}\n');
  const only = path.join(work, 'only');
  rpm(only, 'nowhere', 'demo-tools-2.0-1.noarch.rpm');
  const u = push(['--json', only], { dataDir, config: strict });
  assert.equal(u.status, 3, u.stderr);
  const unknown = (JSON.parse(u.stdout) as Report).problems;
  assert.deepEqual(unknown.map((p) => p.code), ['PUSH_UNKNOWN_DESTINATION']);
  assert.match(unknown[0]!.message, /nowhere.*known destinations: d1, d2/);
  assert.match(u.stderr, /PUSH_UNKNOWN_DESTINATION/);
});

test('a missing staging directory is invalid input (exit 3, STAGED_DIR_NOT_FOUND) however it is written, and changes nothing; a URL wrong as a command line is a usage error (2)', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  for (const arg of [path.join(work, 'missing'), `staged:${path.join(work, 'missing')}`]) {
    const r = push(['--json', arg], { dataDir });
    assert.equal(r.status, EXIT.invalid, `${arg}: ${r.stderr}`);
    const rep = JSON.parse(r.stdout) as Report;
    assert.deepEqual(rep.problems.map((p) => [p.code, p.file]), [['STAGED_DIR_NOT_FOUND', path.join(work, 'missing')]]);
  }
  for (const arg of ['koji:x', '']) {
    const r = push([arg], { dataDir });
    assert.equal(r.status, EXIT.usage, `'${arg}': ${r.stderr}`);
    assert.match(r.stderr, /STAGED_URL_INVALID/);
  }
  const repos = runCli(['--data-dir', dataDir, 'repo', 'list', '--json'], { env: { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: path.join(dataDir, 'no-xdg') } });
  assert.deepEqual(JSON.parse(repos.stdout), [], 'no repository was made');
});

test('free space: a push that would not fit in the data dir is refused before writing anything (tmpfs of 4 MiB)', (t) => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  withTmpfs(t, dataDir, '4m', () => {
    const config = path.join(work, 'config.yaml');
    writeFileSync(config, 'push: {free_space_margin_mb: 0}\n');
    const big = Buffer.alloc(6 * 1024 * 1024, 5);
    const root = path.join(work, 'area');
    put(path.join(root, 'files', 'FILES', 'big.bin'), big);
    put(path.join(root, 'staged.yaml'), `header:\n  version: "0.2"\npayload:\n  files:\n    - relative_path: files/FILES/big.bin\n      sha256sum: ${sha256(big)}\n      version: "1"\n`);
    const r = push(['--json', root], { dataDir, config });
    assert.equal(r.status, 4, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.equal(rep.problems[0]!.code, 'PUSH_NO_SPACE');
    assert.match(rep.problems[0]!.message, /needs 6291456 bytes/);
    const stored = spawnSync('find', [path.join(dataDir, 'content'), '-type', 'f'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(stored, '', 'nothing stored');
    const repos = runCli(['--data-dir', dataDir, 'repo', 'list', '--json'], { env: { STAGEPUSH_CONFIG: '' } });
    assert.deepEqual(JSON.parse(repos.stdout), [], 'no repository created');
    // What fits is pushed.
    const small = path.join(work, 'small');
    put(path.join(small, 'docs', 'RAW', 'a.txt'), 'a\n');
    const s = push(['-q', small], { dataDir, config });
    assert.equal(s.status, 0, s.stderr);
  }, '; the margin test in push.test.ts covers the check');
});

test('free space: a staged file the store copies though it is on the data dir\'s filesystem (not readable by everyone) is counted: refused before writing (tmpfs of 4 MiB)', (t) => {
  const work = tempDir();
  const fsDir = path.join(work, 'fs');
  withTmpfs(t, fsDir, '4m', () => {
    const dataDir = path.join(fsDir, 'data');
    const config = path.join(work, 'config.yaml');
    writeFileSync(config, 'push: {free_space_margin_mb: 0}\n');
    const area = (root: string, big: Buffer, mode: number): void => {
      put(path.join(root, 'files', 'FILES', 'big.bin'), big);
      chmodSync(path.join(root, 'files', 'FILES', 'big.bin'), mode);
      put(path.join(root, 'staged.yaml'), `header:\n  version: "0.2"\npayload:\n  files:\n    - relative_path: files/FILES/big.bin\n      sha256sum: ${sha256(big)}\n      version: "1"\n`);
    };
    const stored = () => spawnSync('find', [path.join(dataDir, 'content'), '-type', 'f'], { encoding: 'utf8' }).stdout.trim();
    // 2.5 MiB staged beside the data dir: linked when everyone may read it (no room needed),
    // copied otherwise (stored files are published as symlink targets), which does not fit.
    const big = Buffer.alloc(2.5 * 1024 * 1024, 6);
    const root = path.join(fsDir, 'area');
    area(root, big, 0o600);
    const r = push(['--json', root], { dataDir, config });
    assert.equal(r.status, 4, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.deepEqual(rep.problems.map((p) => p.code), ['PUSH_NO_SPACE']);
    assert.match(rep.problems[0]!.message, new RegExp(`needs ${big.length} bytes`));
    assert.equal(stored(), '', 'nothing stored');
    chmodSync(path.join(root, 'files', 'FILES', 'big.bin'), 0o644);
    assert.equal(push(['-q', root], { dataDir, config }).status, 0, 'linked, it fits');
  });
});

test('free space: --pre-push checks it as a push does, refused before storing anything (tmpfs of 4 MiB)', (t) => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  withTmpfs(t, dataDir, '4m', () => {
    const config = path.join(work, 'config.yaml');
    writeFileSync(config, 'push: {free_space_margin_mb: 0}\n');
    const big = Buffer.alloc(6 * 1024 * 1024, 7);
    const root = path.join(work, 'area');
    put(path.join(root, 'files', 'FILES', 'big.bin'), big);
    put(path.join(root, 'staged.yaml'), `header:\n  version: "0.2"\npayload:\n  files:\n    - relative_path: files/FILES/big.bin\n      sha256sum: ${sha256(big)}\n      version: "1"\n`);
    // It stores into the content store, pinned for days (gc keeps it): filling the data dir
    // would leave it full until the pin expires.
    const r = push(['--json', '--pre-push', root], { dataDir, config });
    assert.equal(r.status, 4, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.deepEqual(rep.problems.map((p) => p.code), ['PUSH_NO_SPACE']);
    assert.match(rep.problems[0]!.message, /needs 6291456 bytes/);
    const stored = spawnSync('find', [path.join(dataDir, 'content'), '-type', 'f'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(stored, '', 'nothing stored, nothing pinned');
  });
});

test('README main job: the bundled demo area pushes on the embedded default; CGW content is exported as a manifest', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const demo = path.join(ROOT, 'fixtures', 'staging', 'demo');
  const r = push(['--json', demo], { dataDir });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Report & { config_file: string | null };
  assert.equal(rep.config_file, null);
  assert.deepEqual(rep.repositories.map((x) => `${x.id}:${x.status}`), ['demo-docs:published', 'demo-el9:published', 'demo-files:published']);
  const pub = path.join(dataDir, 'published', 'http');
  for (const f of ['demo-el9/repodata/repomd.xml', 'demo-el9/.treeinfo', 'demo-files/PULP_MANIFEST', 'demo-docs/index.html']) assert.ok(existsSync(path.join(pub, f)), f);
  // Within a repository, modulemd is imported before the RPMs (the push log records each upload).
  const log = readFileSync(path.join(dataDir, 'logs', (rep as unknown as { push_id: string }).push_id, 'push.log'), 'utf8');
  const uploads = [...log.matchAll(/"phase":"upload","repo":"demo-el9","label":"([^"]+)"/g)].map((m) => m[1]!).filter((l, i, a) => a.indexOf(l) === i);
  assert.ok(uploads.includes('modules.yaml') && uploads.some((u) => u.endsWith('.rpm')), uploads.join(' '));
  assert.ok(uploads.indexOf('modules.yaml') < Math.min(...uploads.filter((u) => u.endsWith('.rpm')).map((u) => uploads.indexOf(u))), uploads.join(' '));
  assert.equal(push(['-q', demo], { dataDir }).status, 0);

  // CGW (and cloud images) are imported as units and published by the export distributor.
  const cgw = path.join(work, 'cgw');
  put(path.join(cgw, 'cgw-product', 'CGW', 'cgw.yaml'), readFileSync(path.join(ROOT, 'fixtures', 'staging', 'basic', 'cgw-product', 'CGW', 'cgw.yaml')));
  const c = push(['--json', cgw], { dataDir });
  assert.equal(c.status, 0, c.stderr);
  const crep = JSON.parse(c.stdout) as Report & { repositories: Array<{ distributors: Array<{ type_id: string; status: string }>; published_paths: string[] }> };
  assert.deepEqual(crep.repositories[0]!.distributors.map((d) => `${d.type_id}:${d.status}`), ['export_distributor:published']);
  const manifest = JSON.parse(readFileSync(path.join(crep.repositories[0]!.published_paths[0]!, 'manifest.json'), 'utf8')) as { units: Array<{ type: string; unit_key: { name: string } }> };
  assert.deepEqual(manifest.units.map((u) => `${u.type}:${u.unit_key.name}`), ['cgw:cgw.yaml']);
});

test('exit statuses: the README table is src/errors.ts EXIT', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Exit statuses'), readme.indexOf('## Global options'));
  const rows = [...table.matchAll(/^\| (\d+)(?: \/ (\d+))? \|/gm)].flatMap((m) => [Number(m[1]), ...(m[2] ? [Number(m[2])] : [])]);
  assert.deepEqual(rows.sort((a, b) => a - b), Object.values(EXIT).sort((a, b) => a - b));
});

test('a publish that fails exits 6 with the imported version kept; the next push publishes it', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const root = path.join(work, 'area');
  put(path.join(root, 'docs', 'RAW', 'a.txt'), 'a\n');
  put(path.join(work, 'not-a-dir'), '');
  const broken = path.join(work, 'broken.yaml');
  writeFileSync(broken, `publish: {root: ${path.join(work, 'not-a-dir')}}\n`);
  const f = push(['--json', root], { dataDir, config: broken });
  assert.equal(f.status, 6, f.stderr);
  const rep = JSON.parse(f.stdout) as Report;
  assert.deepEqual(rep.repositories.map((r) => `${r.id}:${r.status}:${r.version}`), ['docs:failed:1']);
  assert.deepEqual(rep.problems.map((p) => p.code), ['PUSH_PUBLISH_FAILED']);
  assert.match(rep.problems[0]!.message, /repository docs: publish failed: .*not-a-dir/);
  const fixed = path.join(work, 'fixed.yaml');
  writeFileSync(fixed, `publish: {root: ${path.join(work, 'pub')}}\n`);
  const ok = push(['--json', root], { dataDir, config: fixed });
  assert.equal(ok.status, 0, ok.stderr);
  const rep2 = JSON.parse(ok.stdout) as Report;
  assert.deepEqual(rep2.repositories.map((r) => `${r.id}:${r.status}:${r.previous_version}->${r.version}`), ['docs:published:1->1']);
  assert.equal(readFileSync(path.join(work, 'pub', 'http', 'docs', 'a.txt'), 'utf8'), 'a\n');
});

test('a declared repository follows its config: display name, distributor config (published again), a new distributor; a refused change or another type changes nothing', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  const root = path.join(work, 'area');
  rpm(root, 'el', 'demo-hello-1.0-1.noarch.rpm');
  rpm(root, 'other', 'demo-tools-2.0-1.noarch.rpm');
  const declare = (body: string) => writeFileSync(config, `allow_unsigned: true\nrepositories:\n  other: {type: yum}\n  el:\n${body}`);
  declare('    type: yum\n    display_name: First\n');
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  const show = () => JSON.parse(runCli(['--data-dir', dataDir, '--config', config, 'repo', 'show', 'el', '--json']).stdout) as { displayName: string; version: number; distributors: Array<{ id: string; config: Record<string, unknown> }> };
  const pub = path.join(dataDir, 'published');
  assert.ok(existsSync(path.join(pub, 'http', 'el', 'repodata', 'repomd.xml')));

  // Another display name and relative_url, https on, and a second distributor.
  declare(
    [
      '    type: yum',
      '    display_name: Second',
      '    distributors:',
      '      - {id: yum_distributor, type_id: yum_distributor, config: {relative_url: content/el, http: true, https: true}}',
      '      - {id: exp, type_id: export_distributor, config: {mode: manifest}}',
      '',
    ].join('\n'),
  );
  const dry = push(['--json', '--dry-run', root], { dataDir, config });
  assert.equal(dry.status, 0, dry.stderr);
  type Repo = { id: string; status: string; config_changes?: string[]; distributors: Array<{ id: string; status: string }> };
  const reposOf = (out: string) => (JSON.parse(out) as { repositories: Repo[] }).repositories;
  const planned = reposOf(dry.stdout).find((x) => x.id === 'el')!;
  assert.equal(planned.status, 'published');
  assert.deepEqual(planned.config_changes, ["display_name: \"First\" -> \"Second\"", 'distributor yum_distributor: config', 'distributor exp: added']);
  assert.equal(show().displayName, 'First', 'the dry run changed nothing');

  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  const el = reposOf(r.stdout).find((x) => x.id === 'el')!;
  assert.deepEqual(el.config_changes, planned.config_changes);
  assert.deepEqual(el.distributors.map((d) => `${d.id}:${d.status}`), ['yum_distributor:published', 'exp:published']);
  assert.ok(rep.items.every((i) => i.action === 'unchanged'));
  const after = show();
  assert.equal(after.displayName, 'Second');
  assert.equal(after.version, 1, 'no new content version');
  assert.deepEqual(after.distributors.find((d) => d.id === 'yum_distributor')!.config, { relative_url: 'content/el', http: true, https: true });
  assert.ok(existsSync(path.join(pub, 'http', 'content', 'el', 'repodata', 'repomd.xml')));
  assert.ok(existsSync(path.join(pub, 'https', 'content', 'el', 'repodata', 'repomd.xml')));
  // In line now: the next push changes and publishes nothing.
  const again = reposOf(push(['--json', root], { dataDir, config }).stdout);
  assert.deepEqual(again.map((x) => `${x.id}:${x.status}:${x.config_changes ?? '-'}`), ['el:skipped:-', 'other:skipped:-']);

  // A configuration its plugin refuses, or another repository type: exit 3, nothing changes.
  const dbBefore = readFileSync(path.join(dataDir, 'engine.db'));
  declare('    type: yum\n    display_name: Third\n    distributors:\n      - {id: yum_distributor, type_id: yum_distributor, config: {relative_url: other}}\n');
  const bad = push(['--json', root], { dataDir, config });
  assert.equal(bad.status, 3, bad.stderr);
  // Caught with the configuration (naming its line), before anything is loaded.
  const badErr = (JSON.parse(bad.stdout) as { error: { code: string; problems: Array<{ code: string; message: string; entry?: string }> } }).error;
  assert.deepEqual(badErr.problems.map((p) => p.code), ['CONFIG_INVALID']);
  assert.match(badErr.problems[0]!.message, /relative_url "other" is already used by repository/);
  assert.match(badErr.problems[0]!.entry ?? '', /^line \d+$/);
  declare('    type: file\n');
  const other = push(['--json', root], { dataDir, config });
  assert.equal(other.status, 3, other.stderr);
  assert.match((JSON.parse(other.stdout) as Report).problems.map((p) => `${p.code} ${p.message}`).join('\n'), /repository el/);
  assert.deepEqual(readFileSync(path.join(dataDir, 'engine.db')), dbBefore);
  assert.equal(show().displayName, 'Second');
});

test('a declared importer signing policy holds for the push that declares it: require_signature and allowed_keys refuse (exit 4, every file listed, dry run alike) before anything changes; accepted content is imported under it', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  const first = path.join(work, 'first');
  rpm(first, 'el', 'demo-hello-1.0-1.noarch.rpm');
  writeFileSync(config, 'allow_unsigned: true\nrepositories:\n  el: {type: yum}\n');
  assert.equal(push(['-q', first], { dataDir, config }).status, 0);
  const show = () => JSON.parse(runCli(['--data-dir', dataDir, '--config', config, 'repo', 'show', 'el', '--json']).stdout) as { version: number; importer: { config: Record<string, unknown> } };

  const root = path.join(work, 'area');
  rpm(root, 'el', 'demo-unsigned-1.0-1.noarch.rpm');
  rpm(root, 'el', 'demo-other-1.0-1.noarch.rpm');
  writeFileSync(config, `allow_unsigned: true\nrepositories:\n  el: {type: yum, importer: {type_id: yum_importer, config: {require_signature: true, allowed_keys: [${keyIds().A}]}}}\n`);
  const dbBefore = readFileSync(path.join(dataDir, 'engine.db'));
  const expected = ['YUM_KEY_NOT_ALLOWED demo-other-1.0-1.noarch.rpm', 'YUM_UNSIGNED demo-unsigned-1.0-1.noarch.rpm'];
  const problems = (out: string) => (JSON.parse(out) as Report).problems.map((p) => `${p.code} ${path.basename(p.file ?? '')}`).sort();
  for (const args of [['--dry-run'], []]) {
    const r = push(['--json', ...args, root], { dataDir, config });
    assert.equal(r.status, 4, `${args.join(' ')}: ${r.stderr}`);
    assert.deepEqual(problems(r.stdout), expected, args.join(' '));
  }
  assert.deepEqual(readFileSync(path.join(dataDir, 'engine.db')), dbBefore, 'nothing changed, not even the importer configuration');
  assert.deepEqual(show().importer.config, {});

  // A package the declared policy accepts: imported, and the configuration stored with it.
  rmSync(root, { recursive: true });
  rpm(root, 'el', 'demo-tools-2.0-1.noarch.rpm');
  const ok = push(['--json', root], { dataDir, config });
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual((JSON.parse(ok.stdout) as { repositories: Array<{ config_changes?: string[] }> }).repositories[0]!.config_changes, ['importer yum_importer: config']);
  assert.equal(show().version, 2);
  assert.deepEqual(show().importer.config, { require_signature: true, allowed_keys: [keyIds().A] });
});

test('a mirror push refuses an entry the walk ignores in its destination (RPMS misspelt RPM: its packages would be removed as absent); an additive push only warns', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  const root = path.join(work, 'area');
  rpm(root, 'd1', 'demo-tools-2.0-1.noarch.rpm');
  put(path.join(root, 'd1', 'COMPS', 'comps.xml'), COMPS);
  const declare = (mode: string) => writeFileSync(config, `allowed_signing_keys: [${keyIds().A}]\nrepositories:\n  m: {type: yum, destinations: [d1], push_mode: ${mode}}\n`);
  declare('mirror');
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  renameSync(path.join(root, 'd1', 'RPMS'), path.join(root, 'd1', 'RPM'));
  for (const args of [['--dry-run'], []]) {
    const r = push(['--json', ...args, root], { dataDir, config });
    assert.equal(r.status, 3, `${args.join(' ')}: ${r.stderr}`);
    const rep = JSON.parse(r.stdout) as Report & { problems: Array<{ code: string; file?: string; message: string }> };
    assert.deepEqual(rep.problems.map((p) => `${p.code} ${path.relative(root, p.file ?? '')}`), ['PUSH_MIRROR_IGNORED_ENTRY d1/RPM']);
    assert.match(rep.problems[0]!.message, /did you mean RPMS\?.*repository m is pushed in mirror mode/);
  }
  const units = () => (JSON.parse(runCli(['--data-dir', dataDir, '--config', config, 'content', 'list', '--repo', 'm', '--json']).stdout) as Array<{ typeId: string }>).filter((u) => u.typeId === 'rpm').length;
  assert.equal(units(), 1, 'nothing removed');
  declare('additive');
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  assert.ok((JSON.parse(r.stdout) as { warnings: Array<{ code: string }> }).warnings.some((w) => w.code === 'STAGED_ENTRY_IGNORED'));
  assert.equal(units(), 1);
});

test('a long key id in a declared importer allowed_keys is compared whole: the signing key\'s short id under other leading digits lets nothing in (exit 4, the dry run alike), the right long id does', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  const root = path.join(work, 'area');
  const file = rpm(root, 'el', 'demo-tools-2.0-1.noarch.rpm');
  const long = readRpmFileSync(file).record.signatures[0]!.longKeyId!.toUpperCase();
  assert.equal(long.slice(8), keyIds().A);
  const forged = `${long.startsWith('DEADBEEF') ? 'FEEDFACE' : 'DEADBEEF'}${keyIds().A}`;
  const declare = (key: string) => writeFileSync(config, `allowed_signing_keys: [${keyIds().A}]\nrepositories:\n  el: {type: yum, importer: {type_id: yum_importer, config: {allowed_keys: ['${key}']}}}\n`);
  declare(forged);
  for (const args of [['--dry-run'], []]) {
    const r = push(['--json', ...args, root], { dataDir, config });
    assert.equal(r.status, 4, `${args.join(' ')}: ${r.stderr}`);
    assert.deepEqual((JSON.parse(r.stdout) as Report).problems.map((p) => `${p.code} ${path.basename(p.file ?? '')}`), ['YUM_KEY_NOT_ALLOWED demo-tools-2.0-1.noarch.rpm']);
  }
  declare(`0x${long.toLowerCase()}`);
  const ok = push(['--json', root], { dataDir, config });
  assert.equal(ok.status, 0, ok.stderr);
});

test('a package whose header text holds a control character (createrepo_c refuses it) is refused before anything changes: the push and its dry run (exit 3, naming file and field), an upload too', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const root = path.join(work, 'area');
  const dir = path.join(root, 'el', 'RPMS');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'good-1.0-1.noarch.rpm'), buildRpm({ name: 'good', version: '1.0', release: '1', files: [{ path: '/usr/share/good', data: Buffer.from('g') }] }));
  const bad = path.join(dir, 'bell-1.0-1.noarch.rpm');
  writeFileSync(bad, buildRpm({ name: 'bell', version: '1.0', release: '1', description: 'rings \u0007 here', files: [{ path: '/usr/share/bell', data: Buffer.from('b') }] }));
  for (const args of [['--dry-run'], []]) {
    const r = push(['--json', ...args, root], { dataDir, config });
    assert.equal(r.status, 3, `${args.join(' ')}: ${r.stderr}`);
    const problems = (JSON.parse(r.stdout) as Report).problems;
    assert.deepEqual(problems.map((p) => `${p.code} ${path.basename(p.file ?? '')}`), ['REPODATA_CONTROL_CHARS bell-1.0-1.noarch.rpm']);
    assert.match(problems[0]!.message, /description holds a control character/);
  }
  assert.match(runCli(['--data-dir', dataDir, 'repo', 'list'], { env: { STAGEPUSH_CONFIG: '' } }).stdout, /no repositories/, 'nothing was made');
  // The push without it works; an upload of it is refused (the repository keeps publishing).
  rmSync(bad);
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
  writeFileSync(path.join(work, 'bell.rpm'), buildRpm({ name: 'bell', version: '1.0', release: '1', description: 'rings \u0007 here', files: [{ path: '/usr/share/bell', data: Buffer.from('b') }] }));
  const up2 = runCli(['--data-dir', dataDir, 'content', 'upload', '--repo', 'el', path.join(work, 'bell.rpm')], { env: { STAGEPUSH_CONFIG: '' } });
  assert.equal(up2.status, 3, up2.stderr);
  assert.match(up2.stderr, /REPODATA_CONTROL_CHARS/);
  const pub = runCli(['--data-dir', dataDir, 'repo', 'publish', 'el', '--force'], { env: { STAGEPUSH_CONFIG: '' } });
  assert.equal(pub.status, 0, pub.stderr);
});

test('a package whose published file name (name-version-release.arch.rpm) is longer than 255 bytes is refused before anything changes, whatever the staged file is called', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const root = path.join(work, 'area');
  const dir = path.join(root, 'el', 'RPMS');
  mkdirSync(dir, { recursive: true });
  // 243 + "-1.0-1.noarch.rpm" (17) = 260 bytes; 238 gives 255, which publishes.
  writeFileSync(path.join(dir, 'long.rpm'), buildRpm({ name: 'l'.repeat(243), version: '1.0', release: '1', files: [{ path: '/usr/share/l', data: Buffer.from('l') }] }));
  writeFileSync(path.join(dir, 'fits.rpm'), buildRpm({ name: 'f'.repeat(238), version: '1.0', release: '1', files: [{ path: '/usr/share/f', data: Buffer.from('f') }] }));
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 3, r.stderr);
  const problems = (JSON.parse(r.stdout) as Report).problems;
  assert.deepEqual(problems.map((p) => `${p.code} ${path.basename(p.file ?? '')}`), ['RPM_NAME_TOO_LONG long.rpm']);
  assert.match(problems[0]!.message, /260 bytes/);
  assert.match(runCli(['--data-dir', dataDir, 'repo', 'list'], { env: { STAGEPUSH_CONFIG: '' } }).stdout, /no repositories/, 'nothing was made');
  // An upload into a repository is refused the same way (its sync too: the same importer code).
  const env = { env: { STAGEPUSH_CONFIG: '' } };
  assert.equal(runCli(['--data-dir', dataDir, 'repo', 'create', 'up', '--importer', 'yum_importer'], env).status, 0);
  const up = runCli(['--data-dir', dataDir, 'content', 'upload', '--repo', 'up', path.join(dir, 'long.rpm')], env);
  assert.equal(up.status, 3, up.stderr);
  assert.match(up.stderr, /RPM_NAME_TOO_LONG.*260 bytes/);
  rmSync(path.join(dir, 'long.rpm'));
  assert.equal(push(['-q', root], { dataDir, config }).status, 0, 'a 255-byte file name publishes');
});

test('a control character in an old changelog entry refuses the package only where the repository publishes that entry (changelog_limit), as createrepo_c decides', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  // Twelve entries, newest first; the oldest (the 12th) holds a control character.
  const changelog = (name: string) =>
    buildRpm({
      name,
      version: '1.0',
      release: '1',
      files: [{ path: `/usr/share/${name}`, data: Buffer.from(name) }],
      extra: [
        { tag: TAG.CHANGELOGTIME, value: { type: 'INT32', value: Array.from({ length: 12 }, (_, i) => 1700000000 - i * 86400) } },
        { tag: TAG.CHANGELOGNAME, value: { type: 'STRING_ARRAY', value: Array.from({ length: 12 }, () => 'A <a@b.c> - 1.0-1') } },
        { tag: TAG.CHANGELOGTEXT, value: { type: 'STRING_ARRAY', value: Array.from({ length: 12 }, (_, i) => (i === 11 ? 'old \u0001 change' : `change ${i}`)) } },
      ],
    });
  const root = path.join(work, 'area');
  mkdirSync(path.join(root, 'short', 'RPMS'), { recursive: true });
  mkdirSync(path.join(root, 'long', 'RPMS'), { recursive: true });
  writeFileSync(path.join(root, 'short', 'RPMS', 'old-1.0-1.noarch.rpm'), changelog('old'));
  writeFileSync(path.join(root, 'long', 'RPMS', 'old-1.0-1.noarch.rpm'), changelog('old'));
  // createrepo_c with its default limit (10) publishes it.
  const cr = path.join(work, 'cr');
  mkdirSync(cr);
  writeFileSync(path.join(cr, 'old-1.0-1.noarch.rpm'), changelog('old'));
  assert.equal(spawnSync('createrepo_c', ['-q', cr]).status, 0);
  writeFileSync(config, 'allow_unsigned: true\nrepositories:\n  long:\n    type: yum\n    distributors: [{type_id: yum_distributor, config: {changelog_limit: 12}}]\n');
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 3, r.stderr);
  const problems = (JSON.parse(r.stdout) as Report).problems;
  assert.deepEqual(problems.map((p) => `${p.code} ${path.relative(root, p.file ?? '')}`), [`REPODATA_CONTROL_CHARS ${path.join('long', 'RPMS', 'old-1.0-1.noarch.rpm')}`]);
  assert.match(problems[0]!.message, /changelog entry 12 \(from the newest; the repository publishes 12\)/);
  rmSync(path.join(root, 'long'), { recursive: true });
  assert.equal(push(['-q', root], { dataDir, config }).status, 0, 'with the default limit it publishes, as createrepo_c does');
  // An upload checks with the default limit too.
  writeFileSync(path.join(work, 'u.rpm'), changelog('up'));
  assert.equal(runCli(['--data-dir', dataDir, 'content', 'upload', '--repo', 'short', path.join(work, 'u.rpm')], { env: { STAGEPUSH_CONFIG: '' } }).status, 0);
});

test('a full disk met while writing is said as such: a full data dir refuses the push (PUSH_NO_SPACE, exit 4), a full --log-file leaves the push done with a warning (not exit 1)', (t) => {
  const work = tempDir();
  const full = path.join(work, 'full');
  withTmpfs(t, full, '1m', () => {
    const avail = Number(spawnSync('df', ['--output=avail', '-k', full], { encoding: 'utf8' }).stdout.trim().split('\n').pop());
    spawnSync('dd', ['if=/dev/zero', `of=${path.join(full, 'filler')}`, 'bs=1k', `count=${avail}`]);
    const root = path.join(work, 'area');
    put(path.join(root, 'docs', 'RAW', 'a.txt'), 'a\n');
    const r = push(['--json', root], { dataDir: path.join(full, 'data') });
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stderr, /PUSH_NO_SPACE.*no space left while writing in the data directory/);
    const log = push(['--json', '--log-file', path.join(full, 'push.log'), root], { dataDir: path.join(work, 'data') });
    assert.equal(log.status, 0, log.stderr);
    const rep = JSON.parse(log.stdout) as { status: string; warnings: Array<{ code: string; file?: string }> };
    assert.equal(rep.status, 'ok');
    assert.deepEqual(rep.warnings.filter((w) => w.code === 'PUSH_LOG_UNWRITABLE').map((w) => w.file), [path.join(full, 'push.log')]);
  });
});

test('a push that replaces more than a thousand packages completes (removal by id in one query of any length)', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const stage = (root: string, salt: string) => {
    const dir = path.join(root, 'many', 'RPMS');
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 1100; i++) {
      const name = `many-${String(i).padStart(4, '0')}`;
      writeFileSync(path.join(dir, `${name}-1.0-1.noarch.rpm`), buildRpm({ name, version: '1.0', release: '1', arch: 'noarch', files: [{ path: `/usr/share/many/${name}`, data: Buffer.from(`${name} ${salt}\n`) }], compressionLevel: 0 }));
    }
    return root;
  };
  assert.equal(push(['-q', stage(path.join(work, 'a'), 'first')], { dataDir, config }).status, 0);
  const r = push(['--json', stage(path.join(work, 'b'), 'rebuilt')], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  assert.equal(rep.items.filter((i) => i.action === 'replaced').length, 1100);
  const units = runCli(['--data-dir', dataDir, '--config', config, 'content', 'list', '--repo', 'many', '--json']);
  assert.equal((JSON.parse(units.stdout) as unknown[]).length, 1100, 'the old builds are gone');
});

test('two different builds of one NEVRA staged for one repository are refused (exit 3), each naming the other, whatever duplicate_nevra says', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const root = path.join(work, 'area');
  const a = rpm(root, 'dx', 'demo-hello-1.0-1.noarch.rpm');
  const b = rpm(root, 'dy', 'demo-hello-1.0-1.noarch.rpm');
  assert.equal(spawnSync('rpmsign', ['--delsign', b]).status, 0);
  for (const policy of ['refuse', 'replace']) {
    const config = path.join(work, `${policy}.yaml`);
    writeFileSync(config, `allow_unsigned: true\nrepositories:\n  rc: {type: yum, destinations: [dx, dy], duplicate_nevra: ${policy}}\n`);
    const r = push(['--json', root], { dataDir, config });
    assert.equal(r.status, 3, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.deepEqual(rep.problems.map((p) => `${p.code} ${path.basename(path.dirname(path.dirname(p.file!)))}`).sort(), ['PUSH_NEVRA_STAGED_TWICE dx', 'PUSH_NEVRA_STAGED_TWICE dy']);
    assert.ok(rep.problems.some((p) => p.message.includes(b)) && rep.problems.some((p) => p.message.includes(a)), JSON.stringify(rep.problems));
    assert.ok(!existsSync(path.join(dataDir, 'published', 'http', 'rc')), 'nothing published');
  }
  // The same build under both destinations is one unit, as before.
  copyFileSync(a, b);
  const config = path.join(work, 'refuse.yaml');
  const ok = push(['--json', root], { dataDir, config });
  assert.equal(ok.status, 0, ok.stderr);
});

test('two FILES given one file name for one repository are refused (exit 3), each naming the other; nothing is stored', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const root = path.join(work, 'area');
  for (const [n, text] of [['a', 'first\n'], ['b', 'second\n'], ['c', 'third\n']]) put(path.join(root, 'files1', 'FILES', n!), text!);
  put(
    path.join(root, 'staged.yaml'),
    ['header: {version: "0.2"}', 'payload:', '  files:', '  - {relative_path: files1/FILES/a, filename: a.txt, attributes: {description: A}}', '  - {relative_path: files1/FILES/b, filename: same.txt, attributes: {description: B}}', '  - {relative_path: files1/FILES/c, filename: same.txt, attributes: {description: C}}', ''].join('\n'),
  );
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 3, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  const twice = rep.problems.filter((p) => p.code === 'PUSH_STAGED_TWICE');
  assert.deepEqual(twice.map((p) => path.basename(p.file!)).sort(), ['b', 'c']);
  assert.match(twice.find((p) => p.file!.endsWith('/b'))!.message, /files1\/FILES\/c/);
  assert.equal(existsSync(path.join(dataDir, 'published', 'http', 'files1')), false, 'nothing published');
  // The dry run says the same.
  const dry = push(['--dry-run', '--json', root], { dataDir, config });
  assert.equal(dry.status, 3, dry.stderr);
  assert.deepEqual((JSON.parse(dry.stdout) as Report).problems.map((p) => p.code), ['PUSH_STAGED_TWICE', 'PUSH_STAGED_TWICE']);
});

test('one CGW file and one AWS image staged alike in two staging directories of one URL are one unit each; with other content, PUSH_STAGED_TWICE', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const dirs = ['a', 'b'].map((n) => path.join(work, n));
  for (const d of dirs) {
    put(path.join(d, 'dc', 'CGW', 'cgw.yaml'), '- type: product\n  action: create\n  metadata: {name: P, productCode: P}\n');
    put(path.join(d, 'dc', 'AWS_IMAGES', 'img.raw'), 'snapshot');
    put(path.join(d, 'staged.yaml'), stagedYaml([{ relative_path: 'dc/AWS_IMAGES/img.raw', attributes: AMI_ATTRS }]));
  }
  const url = `staged:${dirs.join(',')}`;
  const r = push(['--json', url], { dataDir, config });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  assert.deepEqual(rep.problems, []);
  const units = (JSON.parse(runCli(['--data-dir', dataDir, 'content', 'list', '--repo', 'dc', '--json']).stdout) as Array<{ typeId: string }>).map((u) => u.typeId).sort();
  assert.deepEqual(units, ['ami', 'cgw']);
  const again = push(['--json', url], { dataDir, config });
  assert.equal(again.status, 0, again.stderr);
  assert.ok((JSON.parse(again.stdout) as Report).items.every((i) => i.action === 'unchanged'), again.stdout);
  // Other content under one name: the plan names both files (not a clash of export paths).
  put(path.join(dirs[1]!, 'dc', 'CGW', 'cgw.yaml'), '- type: product\n  action: delete\n  metadata: {name: P, productCode: P}\n');
  const other = push(['--json', url], { dataDir, config });
  assert.equal(other.status, 3, other.stderr);
  assert.deepEqual((JSON.parse(other.stdout) as Report).problems.map((p) => [p.code, p.file]), [
    ['PUSH_STAGED_TWICE', path.join(dirs[0]!, 'dc', 'CGW', 'cgw.yaml')],
    ['PUSH_STAGED_TWICE', path.join(dirs[1]!, 'dc', 'CGW', 'cgw.yaml')],
  ]);
});

test('a reader that goes away (cron: push … 2>&1 | head -1) does not fail the push: it completes, exit 0, audit trail kept', async () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const root = path.join(work, 'area');
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 200; i++) files[`f${i}`] = Buffer.from(`${i}\n`);
  for (const [n, b] of Object.entries(files)) put(path.join(root, 'files', 'FILES', n), b);
  writeStagedYaml(root, files);
  const child = spawnCli(['--data-dir', dataDir, '--config', config, 'push', '--progress', 'plain', root], { env: { STAGEPUSH_CONFIG: '', XDG_CONFIG_HOME: path.join(work, 'no-xdg') } });
  // Like `head -1`: read the first chunk, then close both pipes.
  child.stderr.once('data', () => {
    child.stderr.destroy();
    child.stdout.destroy();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 0);
  const list = runCli(['--data-dir', dataDir, 'push', 'list', '--json'], { env: { STAGEPUSH_CONFIG: '' } });
  assert.equal(list.status, 0, list.stderr);
  const pushes = JSON.parse(list.stdout) as Array<{ status: string; exit_status: number }>;
  assert.deepEqual(pushes.map((p) => [p.status, p.exit_status]), [['ok', 0]]);
});

test('a RAW tree that would publish over repodata/ or Packages/ is refused before anything changes (dry run and push)', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const root = path.join(work, 'area');
  rpm(root, 'coly', 'demo-hello-1.0-1.noarch.rpm');
  put(path.join(root, 'coly', 'RAW', 'Packages', 'x'), 'p\n');
  put(path.join(root, 'coly', 'RAW', 'images', 'boot.iso'), 'b\n');
  put(path.join(root, 'other', 'RAW', 'repodata', 'repomd.xml'), '<repomd/>\n');
  rpm(root, 'other', 'demo-tools-2.0-1.noarch.rpm');
  for (const args of [['--dry-run', '--json', root], ['--json', root]]) {
    const r = push(args, { dataDir, config });
    assert.equal(r.status, 3, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.deepEqual(rep.problems.map((p) => `${p.code} ${path.basename(p.file ?? '')}`).sort(), ['PUBLISH_PATH_COLLISION RAW', 'PUBLISH_PATH_COLLISION RAW']);
    assert.match(rep.problems.map((p) => p.message).join('\n'), /"Packages" of RAW tree coly collides with the yum Packages\/ directory/);
    assert.match(rep.problems.map((p) => p.message).join('\n'), /"repodata" of RAW tree other collides with the yum repodata\/ directory/);
  }
  assert.equal(existsSync(path.join(dataDir, 'published', 'http', 'coly')), false);
  const repos = runCli(['--data-dir', dataDir, 'repo', 'list', '--json'], { env: { STAGEPUSH_CONFIG: '' } });
  assert.deepEqual(JSON.parse(repos.stdout), []);
});

test('push.store_files: copy stores copies: a staged file rewritten in place afterwards leaves the stored and published content as pushed', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\npush: {store_files: copy}\n');
  const root = path.join(work, 'area');
  const f = rpm(root, 'el', 'demo-hello-1.0-1.noarch.rpm');
  const before = readFileSync(f);
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as { items: Array<{ stored?: string }> }).items.map((i) => i.stored), ['copied']);
  // Rewritten in place (same inode), as `cp other.rpm staged.rpm` does.
  writeFileSync(f, readFileSync(path.join(RPMS, 'demo-hello-1.1-1.noarch.rpm')));
  const published = path.join(dataDir, 'published', 'http', 'el', 'Packages', 'd', 'demo-hello-1.0-1.noarch.rpm');
  assert.deepEqual(readFileSync(published), before);
  const fsck = runCli(['--data-dir', dataDir, '--config', config, 'fsck']);
  assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
  // The default links (same filesystem): the report says so.
  const dataDir2 = path.join(work, 'data2');
  const config2 = path.join(work, 'config2.yaml');
  writeFileSync(config2, 'allow_unsigned: true\n');
  const l = push(['--json', root], { dataDir: dataDir2, config: config2 });
  assert.equal(l.status, 0, l.stderr);
  assert.deepEqual((JSON.parse(l.stdout) as { items: Array<{ stored?: string }> }).items.map((i) => i.stored), ['linked']);
});

test('a FILES name that is a directory of a stored file (or the reverse) is refused before the commit; the repository keeps publishing', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const area = (name: string, file: string, filename: string, text: string) => {
    const root = path.join(work, name);
    put(path.join(root, 'files', 'FILES', file), text);
    put(path.join(root, 'staged.yaml'), `header: {version: "0.2"}\npayload:\n  files:\n  - {relative_path: files/FILES/${file}, filename: ${filename}, attributes: {description: d}}\n`);
    return root;
  };
  assert.equal(push(['-q', area('s1', 'a.txt', 'sub/dir/a.txt', 'a\n')], { dataDir, config }).status, 0);
  for (const args of [['--dry-run', '--json'], ['--json']]) {
    const r = push([...args, area('s2', 's', 'sub', 'x\n')], { dataDir, config });
    assert.equal(r.status, 3, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.deepEqual(rep.problems.map((p) => p.code), ['PUBLISH_PATH_COLLISION']);
    assert.match(rep.problems[0]!.message, /"sub" of FILES sub collides with stored file sub\/dir\/a\.txt/);
  }
  const r3 = push(['-q', area('s3', 'new.txt', 'new.txt', 'n\n')], { dataDir, config });
  assert.equal(r3.status, 0, r3.stderr);
  assert.match(readFileSync(path.join(dataDir, 'published', 'http', 'files', 'PULP_MANIFEST'), 'utf8'), /^new\.txt,/m);
});

test('modulemd documents the repository does not keep (obsoletes) are warned about, not dropped silently', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const root = path.join(work, 'area');
  const obsoletes = '---\ndocument: modulemd-obsoletes\nversion: 1\ndata:\n  modified: 2022-01-24T08:54Z\n  module: demo\n  stream: "1"\n  message: gone\n...\n';
  put(path.join(root, 'el', 'MODULEMD', 'modules.yaml'), MODULES + obsoletes);
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as { warnings: Array<{ code: string; message: string; file?: string }> };
  const w = rep.warnings.filter((x) => x.code === 'PUSH_MODULEMD_DOCUMENT_IGNORED');
  assert.equal(w.length, 1, JSON.stringify(rep.warnings));
  assert.match(w[0]!.message, /\(modulemd-obsoletes\) is not published/);
  // A file of obsoletes only makes no unit: unchanged (dry run and push), nothing published.
  const only = path.join(work, 'only');
  put(path.join(only, 'el', 'MODULEMD', 'obsoletes.yaml'), obsoletes);
  for (const args of [['--dry-run', '--json', only], ['--json', only]]) {
    const o = push(args, { dataDir, config });
    assert.equal(o.status, 0, o.stderr);
    const orep = JSON.parse(o.stdout) as Report;
    assert.deepEqual(orep.items.map((i) => i.action), ['unchanged']);
    assert.deepEqual(orep.repositories.map((x) => x.status), ['skipped']);
  }
});

test('one comps or modulemd unit staged by two files with different content (a group, langpacks, module defaults) is refused, naming both files', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const root = path.join(work, 'area');
  const comps = (group: string, pkg: string) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<comps>\n  <group><id>${group}</id><name>${group}</name><description>d</description><default>false</default><uservisible>true</uservisible><packagelist><packagereq type="mandatory">${pkg}</packagereq></packagelist></group>\n  <langpacks><match install="${pkg}-langpack-%s" name="${pkg}"/></langpacks>\n</comps>\n`;
  put(path.join(root, 'el', 'COMPS', 'a.xml'), comps('g1', 'hello'));
  put(path.join(root, 'el', 'COMPS', 'b.xml'), comps('g2', 'world'));
  const mod = (s: string) =>
    `---\ndocument: modulemd\nversion: 2\ndata: {name: hmod, stream: "${s}", version: 1, context: aaaa000${s}, arch: noarch, summary: s, description: d, license: {module: [MIT]}, profiles: {default: {rpms: [hello]}}, artifacts: {rpms: []}}\n...\n---\ndocument: modulemd-defaults\nversion: 1\ndata: {module: hmod, stream: "1", profiles: {"${s}": [default]}}\n...\n`;
  put(path.join(root, 'el', 'MODULEMD', 'm1.yaml'), mod('1'));
  put(path.join(root, 'el', 'MODULEMD', 'm2.yaml'), mod('2'));
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 3, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  const byFile = new Map(rep.problems.map((p) => [path.basename(p.file ?? ''), p.message]));
  assert.deepEqual([...byFile.keys()].sort(), ['a.xml', 'b.xml', 'm1.yaml', 'm2.yaml'], JSON.stringify(rep.problems));
  assert.match(byFile.get('a.xml')!, /package_langpacks.*also in .*b\.xml/);
  assert.match(byFile.get('m1.yaml')!, /modulemd_defaults.*hmod.*also in .*m2\.yaml/);
  assert.ok(rep.problems.every((p) => p.code === 'PUSH_STAGED_TWICE'));
  // One file each: pushed.
  rmSync(path.join(root, 'el', 'COMPS', 'b.xml'));
  rmSync(path.join(root, 'el', 'MODULEMD', 'm2.yaml'));
  assert.equal(push(['-q', root], { dataDir, config }).status, 0);
});

test('one comps or modulemd unit written twice in one file with different content is refused once, saying so (it was listed per copy, "also in" the file itself)', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const root = path.join(work, 'area');
  const group = (name: string) => `  <group><id>g1</id><name>${name}</name><description>d</description><packagelist><packagereq type="mandatory">hello</packagereq></packagelist></group>\n`;
  put(path.join(root, 'el', 'COMPS', 'comps.xml'), `<?xml version="1.0" encoding="UTF-8"?>\n<comps>\n${group('one')}${group('two')}</comps>\n`);
  const stream = (summary: string) => `---\ndocument: modulemd\nversion: 2\ndata: {name: hmod, stream: "1", version: 1, context: aaaa0001, arch: noarch, summary: ${summary}, description: d, license: {module: [MIT]}}\n...\n`;
  put(path.join(root, 'el', 'MODULEMD', 'modules.yaml'), stream('one') + stream('two'));
  const r = push(['--json', root], { dataDir, config });
  assert.equal(r.status, 3, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  const byFile = new Map(rep.problems.map((p) => [path.basename(p.file ?? ''), p.message]));
  assert.deepEqual([...byFile.keys()].sort(), ['comps.xml', 'modules.yaml'], JSON.stringify(rep.problems));
  assert.match(byFile.get('comps.xml')!, /stages for el package_group:g1:el \(twice in this file, with other content\): stage each once, in one file$/);
  assert.match(byFile.get('modules.yaml')!, /stages for el modulemd:hmod:1:1:aaaa0001:noarch \(twice in this file, with other content\): stage each once, in one file$/);
  assert.ok(!/also in/.test(byFile.get('comps.xml')! + byFile.get('modules.yaml')!));
  assert.equal(existsSync(path.join(dataDir, 'published', 'http', 'el')), false);
});

test('a comps.xml or modules.yaml that is not UTF-8 (a Latin-1 byte) is refused naming the byte, nothing changes; it was published with U+FFFD in its place', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const root = path.join(work, 'area');
  put(path.join(root, 'el', 'COMPS', 'comps.xml'), Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?>\n<comps>\n  <group><id>g1</id><name>Caf\xe9</name><packagelist><packagereq>p</packagereq></packagelist></group>\n</comps>\n', 'latin1'));
  put(path.join(root, 'el', 'MODULEMD', 'modules.yaml'), Buffer.from(MODULES.replace('The demo-hello package', 'Caf\xe9: the demo-hello package'), 'latin1'));
  for (const args of [['--dry-run', '--json', root], ['--json', root]]) {
    const r = push(args, { dataDir, config });
    assert.equal(r.status, 3, r.stderr);
    const rep = JSON.parse(r.stdout) as { problems: Array<{ code: string; file?: string; field?: string; message: string }> };
    assert.deepEqual(rep.problems.map((p) => `${p.code} ${path.basename(p.file ?? '')} ${p.field}`).sort(), ['COMPS_INVALID comps.xml encoding', 'MODULEMD_INVALID modules.yaml encoding'], JSON.stringify(rep.problems));
    assert.ok(rep.problems.every((p) => /not valid UTF-8 \(byte 0xe9 at line \d+, column \d+\)/.test(p.message)), JSON.stringify(rep.problems));
  }
  assert.equal(existsSync(path.join(dataDir, 'published', 'http', 'el')), false);
});

test('a RAW tree beside FILES: one file repository publishes both (the manifest lists the files); a RAW path that is also a FILES name is refused before anything changes', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const root = path.join(work, 'area');
  const files = { 'disc.iso': Buffer.from('iso\n') };
  for (const [n, b] of Object.entries(files)) put(path.join(root, 'files', 'FILES', n), b);
  writeStagedYaml(root, files);
  put(path.join(root, 'files', 'RAW', 'images', 'boot.img'), 'boot\n');
  put(path.join(root, 'files', 'RAW', '.treeinfo'), '[general]\n');
  const r = push(['--json', root], { dataDir });
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  assert.deepEqual(rep.repositories.map((x) => [x.id, x.status]), [['files', 'published']]);
  const pub = path.join(dataDir, 'published', 'http', 'files');
  assert.equal(readFileSync(path.join(pub, 'PULP_MANIFEST'), 'utf8'), `disc.iso,${sha256(files['disc.iso'])},4\n`);
  assert.equal(readFileSync(path.join(pub, 'images', 'boot.img'), 'utf8'), 'boot\n');
  assert.equal(readFileSync(path.join(pub, '.treeinfo'), 'utf8'), '[general]\n');
  const again = push(['--json', root], { dataDir });
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual((JSON.parse(again.stdout) as Report).repositories.map((x) => x.status), ['skipped']);

  put(path.join(root, 'files', 'RAW', 'disc.iso'), 'raw\n');
  for (const args of [['--dry-run', '--json', root], ['--json', root]]) {
    const bad = push(args, { dataDir });
    assert.equal(bad.status, 3, bad.stderr);
    assert.match((JSON.parse(bad.stdout) as Report).problems.map((p) => `${p.code} ${p.message}`).join('\n'), /PUBLISH_PATH_COLLISION .*"disc\.iso"/);
  }
  assert.equal(readFileSync(path.join(pub, 'images', 'boot.img'), 'utf8'), 'boot\n');
});

test('a RAW path taken by a stored RAW tree of another destination (or a FILES name taken by a stored tree path) is refused before the commit; the repository keeps publishing', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'repositories:\n  trees: {type: directory, destinations: [t1, t2]}\n  files: {type: file}\n');
  const a1 = path.join(work, 'a1');
  put(path.join(a1, 't1', 'RAW', 'images', 'boot.img'), 'one\n');
  put(path.join(a1, 'files', 'RAW', 'images', 'x.img'), 'x\n');
  assert.equal(push(['-q', a1], { dataDir, config }).status, 0);
  const a2 = path.join(work, 'a2');
  put(path.join(a2, 't2', 'RAW', 'images', 'boot.img'), 'two\n');
  put(path.join(a2, 'files', 'FILES', 'images'), 'f\n');
  put(path.join(a2, 'staged.yaml'), 'header: {version: "0.2"}\npayload:\n  files:\n  - {relative_path: files/FILES/images, filename: images, attributes: {description: d}}\n');
  for (const args of [['--dry-run', '--json'], ['--json']]) {
    const r = push([...args, a2], { dataDir, config });
    assert.equal(r.status, 3, r.stderr);
    const msgs = (JSON.parse(r.stdout) as Report).problems.map((p) => `${p.code} ${p.message}`).sort();
    assert.equal(msgs.length, 2, msgs.join('\n'));
    assert.match(msgs[0]!, /PUBLISH_PATH_COLLISION repository files: path "images" of FILES images collides with stored RAW tree files/);
    assert.match(msgs[1]!, /PUBLISH_PATH_COLLISION repository trees: path "images\/boot\.img" of RAW tree t2 collides with stored RAW tree t1/);
  }
  assert.equal(readFileSync(path.join(dataDir, 'published', 'http', 'trees', 'images', 'boot.img'), 'utf8'), 'one\n');
  // The repository still publishes: another tree of t2 goes beside t1's.
  rmSync(path.join(a2, 't2', 'RAW', 'images'), { recursive: true });
  rmSync(path.join(a2, 'files'), { recursive: true });
  rmSync(path.join(a2, 'staged.yaml'));
  put(path.join(a2, 't2', 'RAW', 'other', 'b.img'), 'b\n');
  const ok = push(['--json', a2], { dataDir, config });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(readFileSync(path.join(dataDir, 'published', 'http', 'trees', 'other', 'b.img'), 'utf8'), 'b\n');
  assert.equal(readFileSync(path.join(dataDir, 'published', 'http', 'trees', 'images', 'boot.img'), 'utf8'), 'one\n');
});

test('a destination whose repository exists keeps its type: CGW next to an existing yum repository goes to <dest>-export, FILES there are refused, a RAW path over its repodata/ is refused (dry run and push agree); RAW and CGW in a new destination both publish', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const cgwYaml = readFileSync(path.join(ROOT, 'fixtures', 'staging', 'basic', 'cgw-product', 'CGW', 'cgw.yaml'));
  const first = path.join(work, 'first');
  rpm(first, 'el', 'demo-hello-1.0-1.noarch.rpm');
  assert.equal(push(['-q', first], { dataDir, config }).status, 0);

  const cgw = path.join(work, 'cgw');
  put(path.join(cgw, 'el', 'CGW', 'cgw.yaml'), cgwYaml);
  const dry = push(['--dry-run', '--json', cgw], { dataDir, config });
  assert.equal(dry.status, 0, dry.stderr);
  const real = push(['--json', cgw], { dataDir, config });
  assert.equal(real.status, 0, real.stderr);
  const actions = (r: { stdout: string }) => (JSON.parse(r.stdout) as Report).items.map((i) => `${i.repository} ${i.unit} ${i.action}`);
  assert.deepEqual(actions(real), actions(dry));
  assert.deepEqual(actions(real), ['el-export cgw:cgw.yaml pushed']);

  const files = path.join(work, 'files');
  put(path.join(files, 'el', 'FILES', 'a.txt'), 'a\n');
  put(path.join(files, 'staged.yaml'), 'header: {version: "0.2"}\npayload:\n  files:\n  - {relative_path: el/FILES/a.txt, attributes: {description: d}}\n');
  const raw = path.join(work, 'raw');
  put(path.join(raw, 'el', 'RAW', 'repodata', 'x.txt'), 'x\n');
  for (const [area, code] of [[files, 'PUSH_TYPE_NOT_HELD'], [raw, 'PUBLISH_PATH_COLLISION']] as const) {
    for (const args of [['--dry-run', '--json', area], ['--json', area]]) {
      const r = push(args, { dataDir, config });
      assert.equal(r.status, 3, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as Report).problems.map((p) => p.code), [code]);
    }
  }
  const versions = runCli(['--data-dir', dataDir, 'repo', 'show', 'el', '--json'], { env: { STAGEPUSH_CONFIG: '' } });
  assert.equal((JSON.parse(versions.stdout) as { version: number }).version, 1, 'nothing committed');

  const both = path.join(work, 'both');
  put(path.join(both, 'prod', 'CGW', 'cgw.yaml'), cgwYaml);
  put(path.join(both, 'prod', 'RAW', 'index.html'), '<html/>\n');
  const b = push(['--json', both], { dataDir, config });
  assert.equal(b.status, 0, b.stderr);
  // The CGW unit (one per name and checksum) is el-export's too, and its metadata (the staged
  // item's src and dest) changed: el-export has a new version, published with the push's.
  assert.deepEqual((JSON.parse(b.stdout) as Report).repositories.map((r) => `${r.id} ${r.status}`), ['prod published', 'prod-export published', 'el-export published']);
  assert.equal(readFileSync(path.join(dataDir, 'published', 'http', 'prod', 'index.html'), 'utf8'), '<html/>\n');
  const again = push(['--json', both], { dataDir, config });
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual((JSON.parse(again.stdout) as Report).repositories.map((r) => r.status), ['skipped', 'skipped']);
  // CGW alone, later, to a destination whose repository publishes a RAW tree: still <dest>-export.
  const later = path.join(work, 'later');
  put(path.join(later, 'prod', 'CGW', 'cgw.yaml'), cgwYaml);
  const rawOnly = path.join(work, 'rawonly');
  put(path.join(rawOnly, 'docs', 'RAW', 'index.html'), '<html/>\n');
  assert.equal(push(['-q', rawOnly], { dataDir, config }).status, 0);
  put(path.join(later, 'docs', 'CGW', 'cgw.yaml'), cgwYaml);
  const l = push(['--json', later], { dataDir, config });
  assert.equal(l.status, 0, l.stderr);
  assert.deepEqual(actions(l), ['docs-export cgw:cgw.yaml pushed', 'prod-export cgw:cgw.yaml unchanged']);
  assert.equal(push(['-q', later], { dataDir, config }).status, 0, 'and every push after it');
});

test('a RAW path an export distributor also lays out for a package, or for a CGW file the repository holds, is refused before anything changes (dry run too); the export publishes the tree once it is renamed', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, ['allow_unsigned: true', 'repositories:', '  el9:', '    type: yum', '    distributors:', '      - {type_id: yum_distributor, config: {relative_url: el9}}', '      - {type_id: export_distributor, config: {mode: tree}}', ''].join('\n'));
  const version = (id: string) => {
    const r = runCli(['--data-dir', dataDir, 'repo', 'show', id, '--json'], { env: { STAGEPUSH_CONFIG: '' } });
    return r.status === 0 ? (JSON.parse(r.stdout) as { version: number }).version : null;
  };
  // Refused naming the RAW tree (the staged directory) and both paths' owners.
  const refused = (area: string, dest: string, message: RegExp) => {
    for (const args of [['--dry-run', '--json', area], ['--json', area]]) {
      const r = push(args, { dataDir, config });
      assert.equal(r.status, 3, r.stderr);
      const problems = (JSON.parse(r.stdout) as Report).problems;
      assert.deepEqual(problems.map((p) => `${p.code} ${p.file}`), [`PUBLISH_PATH_COLLISION ${path.join(area, dest, 'RAW')}`]);
      assert.match(problems[0]!.message, message);
    }
  };
  // A staged package and a RAW file of its file name, at the top of the export.
  const a = path.join(work, 'a');
  rpm(a, 'el9', 'demo-hello-1.0-1.noarch.rpm');
  put(path.join(a, 'el9', 'RAW', 'demo-hello-1.0-1.noarch.rpm'), 'not a package\n');
  refused(a, 'el9', /path "demo-hello-1\.0-1\.noarch\.rpm" of RAW tree el9 collides with rpm:demo-hello-0:1\.0-1\.noarch/);
  assert.equal(version('el9'), null, 'nothing created');
  // The package pushed alone, then the tree: the stored package's file name.
  rmSync(path.join(a, 'el9', 'RAW'), { recursive: true });
  assert.equal(push(['-q', a], { dataDir, config }).status, 0);
  const b = path.join(work, 'b');
  put(path.join(b, 'el9', 'RAW', 'demo-hello-1.0-1.noarch.rpm'), 'not a package\n');
  refused(b, 'el9', /collides with stored rpm unit demo-hello-1\.0-1\.noarch\.rpm/);
  assert.equal(version('el9'), 1, 'nothing committed');
  rmSync(path.join(b, 'el9', 'RAW', 'demo-hello-1.0-1.noarch.rpm'));
  put(path.join(b, 'el9', 'RAW', 'images', 'demo-hello-1.0-1.noarch.rpm'), 'not a package\n');
  const ok = push(['--json', b], { dataDir, config });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(readFileSync(path.join(dataDir, 'published', 'export', 'el9', 'images', 'demo-hello-1.0-1.noarch.rpm'), 'utf8'), 'not a package\n');

  // CGW alone makes a repository exported at cgw/<file>; a RAW tree pushed there later with that path.
  const cgwYaml = readFileSync(path.join(ROOT, 'fixtures', 'staging', 'basic', 'cgw-product', 'CGW', 'cgw.yaml'));
  const c = path.join(work, 'c');
  put(path.join(c, 'prod', 'CGW', 'cgw.yaml'), cgwYaml);
  assert.equal(push(['-q', c], { dataDir, config }).status, 0);
  const d = path.join(work, 'd');
  put(path.join(d, 'prod', 'RAW', 'cgw', 'cgw.yaml'), 'a tree\n');
  refused(d, 'prod', /path "cgw\/cgw\.yaml" of RAW tree prod collides with stored cgw unit cgw\/cgw\.yaml/);
  assert.equal(version('prod'), 1, 'nothing committed');
  // A new CGW file of another name is no clash, nor is a changed one of the same name (it replaces it).
  put(path.join(c, 'prod', 'CGW', 'cgw.yaml'), Buffer.concat([cgwYaml, Buffer.from('# changed\n')]));
  assert.equal(push(['-q', c], { dataDir, config }).status, 0);
  assert.equal(version('prod'), 2);
});

test('a declared repository\'s new relative_url taken by a repository this push creates is refused before anything changes (dry run too)', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const area = path.join(work, 'area');
  rpm(area, 'el9', 'demo-hello-1.0-1.noarch.rpm');
  rpm(area, 'new', 'demo-tools-2.0-1.noarch.rpm');
  const a = path.join(work, 'a.yaml');
  const b = path.join(work, 'b.yaml');
  writeFileSync(a, 'allow_unsigned: true\nrepositories:\n  el9: {type: yum}\n');
  writeFileSync(b, 'allow_unsigned: true\nrepositories:\n  el9:\n    type: yum\n    distributors: [{type_id: yum_distributor, config: {relative_url: new}}]\n');
  assert.equal(push(['-q', '--exclude-dest', 'new', area], { dataDir, config: a }).status, 0);
  for (const args of [['--dry-run', '--json', area], ['--json', area]]) {
    const r = push(args, { dataDir, config: b });
    assert.equal(r.status, 3, r.stderr);
    assert.match((JSON.parse(r.stdout) as Report).problems.map((p) => p.message).join('\n'), /"new" is already used by new\//);
  }
  const repos = runCli(['--data-dir', dataDir, 'repo', 'list', '--json'], { env: { STAGEPUSH_CONFIG: '' } });
  assert.deepEqual((JSON.parse(repos.stdout) as Array<{ id: string; version: number }>).map((r) => `${r.id} ${r.version}`), ['el9 1']);
});

test('the dry run says which repositories the push publishes after a configuration change: a new relative_url applied by a --skip publish push is published next time; auto_publish alone publishes nothing', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const area = path.join(work, 'area');
  rpm(area, 'el9', 'demo-hello-1.0-1.noarch.rpm');
  const cfg = (extra: string) => {
    const f = path.join(work, `c${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(f, `allow_unsigned: true\nrepositories:\n  el9:\n    type: yum\n    distributors: [{type_id: yum_distributor${extra}}]\n`);
    return f;
  };
  const status = (args: string[], config: string) => {
    const r = push(['--json', ...args, area], { dataDir, config });
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as Report).repositories.map((x) => x.status).join(',');
  };
  const a = cfg('');
  assert.equal(status([], a), 'published');
  const moved = cfg(', config: {relative_url: moved}');
  assert.equal(status(['--skip', 'publish'], moved), 'skipped');
  assert.equal(status(['--dry-run'], moved), 'published', 'the engine publishes a configuration it has not published');
  assert.equal(status([], moved), 'published');
  assert.ok(existsSync(path.join(dataDir, 'published', 'http', 'moved', 'repodata', 'repomd.xml')));
  const auto = cfg(', config: {relative_url: moved}, auto_publish: false');
  assert.equal(status(['--dry-run'], auto), 'skipped', 'auto_publish is not published configuration');
  assert.equal(status([], auto), 'skipped');
  // Changed, not published (--skip publish), changed back to what was published: nothing to publish.
  assert.equal(status(['--skip', 'publish'], cfg(', config: {relative_url: elsewhere}, auto_publish: false')), 'skipped');
  assert.equal(status(['--dry-run'], auto), 'skipped', 'the configuration is the published one again');
  assert.equal(status([], auto), 'skipped');
});

test('refuse_escaping_symlinks: a RAW tree with a symlink leaving it is refused by the dry run as by the push', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'repositories:\n  ks:\n    type: directory\n    importer: {type_id: generic_importer, config: {refuse_escaping_symlinks: true}}\n    distributors: [{type_id: directory_distributor}]\n');
  const area = path.join(work, 'area');
  put(path.join(area, 'ks', 'RAW', 'a.txt'), 'a\n');
  symlinkSync('/etc/hostname', path.join(area, 'ks', 'RAW', 'esc'));
  for (const args of [['--dry-run', '--json', area], ['--json', area]]) {
    const r = push(args, { dataDir, config });
    assert.equal(r.status, 3, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as Report).problems.map((p) => p.code), ['FILE_DIRECTORY_ESCAPING_SYMLINK']);
  }
});

test('a repository the push would create is checked by its plugins before anything changes: config check, the dry run (on a fresh data dir too) and the push refuse a bad distributor config alike; a new destination whose path holds an existing relative_url too', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const area = path.join(work, 'area');
  rpm(area, 'a', 'demo-hello-1.0-1.noarch.rpm');
  const config = path.join(work, 'c.yaml');
  writeFileSync(config, 'allow_unsigned: true\nrepositories:\n  a:\n    template: yum\n    destinations: [a]\n    distributors: [{type_id: yum_distributor, config: {gpgkey: /nonexistent.asc}}]\n');
  const check = runCli(['--data-dir', dataDir, 'config', 'check', config], { env: { STAGEPUSH_CONFIG: '' } });
  assert.equal(check.status, 3, check.stderr);
  assert.match(check.stderr, /repositories\.a\.distributors\.0\.config\.gpgkey \(line 6\): .*"gpgkey"/);
  for (const args of [['--dry-run', '--json', area], ['--json', area]]) {
    const r = push(args, { dataDir, config });
    assert.equal(r.status, 3, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as Report).problems.map((p) => `${p.code} ${p.entry}`), ['PLUGIN_CONFIG_INVALID a']);
    if (args[0] === '--dry-run') assert.equal(existsSync(dataDir), false, 'the dry run made no data dir');
  }
  const repos = runCli(['--data-dir', dataDir, 'repo', 'list', '--json'], { env: { STAGEPUSH_CONFIG: '' } });
  assert.deepEqual(JSON.parse(repos.stdout), []);

  const nested = path.join(work, 'nested.yaml');
  writeFileSync(nested, 'allow_unsigned: true\nrepositories:\n  ra:\n    type: yum\n    distributors: [{type_id: yum_distributor, config: {relative_url: content/ra}}]\n');
  const first = path.join(work, 'first');
  rpm(first, 'ra', 'demo-hello-1.0-1.noarch.rpm');
  assert.equal(push(['-q', first], { dataDir, config: nested }).status, 0);
  const second = path.join(work, 'second');
  rpm(second, 'content', 'demo-tools-2.0-1.noarch.rpm');
  for (const args of [['--dry-run', '--json', second], ['--json', second]]) {
    const r = push(args, { dataDir, config: nested });
    assert.equal(r.status, 3, r.stderr);
    assert.match((JSON.parse(r.stdout) as Report).problems.map((p) => p.message).join('\n'), /"content".*"content\/ra"/);
  }
});

test('a damaged push.sqlite (a cache) is set aside, not a crash: the dry run ignores it, the push starts a new one', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const area = path.join(work, 'area');
  rpm(area, 'el', 'demo-hello-1.0-1.noarch.rpm');
  assert.equal(push(['-q', area], { dataDir, config }).status, 0);
  writeFileSync(path.join(dataDir, 'push.sqlite'), 'garbage\n');
  for (const x of ['-wal', '-shm']) rmSync(path.join(dataDir, `push.sqlite${x}`), { force: true });
  const dry = push(['--dry-run', '--json', area], { dataDir, config });
  assert.equal(dry.status, 0, dry.stderr);
  assert.equal(readFileSync(path.join(dataDir, 'push.sqlite'), 'utf8'), 'garbage\n', 'the dry run changed nothing');
  const r = push(['--json', area], { dataDir, config });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as Report).items.map((i) => i.action), ['unchanged']);
  assert.equal(readdirSync(dataDir).filter((n) => n.startsWith('push.sqlite.damaged-')).length, 1);
});

test('a RAW tree holding manifest.json for a repository exported in manifest mode is refused before the commit (dry run too)', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'allow_unsigned: true\n');
  const first = path.join(work, 'first');
  put(path.join(first, 'prod', 'CGW', 'cgw.yaml'), readFileSync(path.join(ROOT, 'fixtures', 'staging', 'basic', 'cgw-product', 'CGW', 'cgw.yaml')));
  assert.equal(push(['-q', first], { dataDir, config }).status, 0);
  const raw = path.join(work, 'raw');
  put(path.join(raw, 'prod', 'RAW', 'manifest.json'), '{}\n');
  for (const args of [['--dry-run', '--json', raw], ['--json', raw]]) {
    const r = push(args, { dataDir, config });
    assert.equal(r.status, 3, r.stderr);
    assert.match((JSON.parse(r.stdout) as Report).problems.map((p) => `${p.code} ${p.message}`).join('\n'), /PUBLISH_PATH_COLLISION .*"manifest\.json" .*export manifest/);
  }
  const show = runCli(['--data-dir', dataDir, 'repo', 'show', 'prod', '--json'], { env: { STAGEPUSH_CONFIG: '' } });
  assert.equal((JSON.parse(show.stdout) as { version: number }).version, 1);
});

test('exports: a RAW path taken by a CGW file of the export is refused before the commit; an export_dir over the data dir is refused; tar and tree exports keep a file\'s executable bit', () => {
  const work = tempDir();
  const cgwYaml = readFileSync(path.join(ROOT, 'fixtures', 'staging', 'basic', 'cgw-product', 'CGW', 'cgw.yaml'));
  const dataDir = path.join(work, 'data');
  const mixCfg = path.join(work, 'mix.yaml');
  writeFileSync(mixCfg, 'repositories:\n  mix:\n    type: directory\n    distributors: [{type_id: export_distributor, config: {mode: manifest}}]\n');
  const mix = path.join(work, 'mix');
  put(path.join(mix, 'mix', 'CGW', 'cgw.yaml'), cgwYaml);
  put(path.join(mix, 'mix', 'RAW', 'cgw', 'cgw.yaml'), 'other\n');
  for (const args of [['--dry-run', '--json', mix], ['--json', mix]]) {
    const r = push(args, { dataDir, config: mixCfg });
    assert.equal(r.status, 3, r.stderr);
    assert.match((JSON.parse(r.stdout) as Report).problems.map((p) => `${p.code} ${p.message}`).join('\n'), /PUBLISH_PATH_COLLISION .*"cgw\/cgw\.yaml"/);
  }

  const over = path.join(work, 'over.yaml');
  writeFileSync(over, `repositories:\n  cg:\n    type: directory\n    distributors: [{type_id: export_distributor, config: {export_dir: ${path.join(dataDir, 'published')}}}]\n`);
  const cg = path.join(work, 'cg');
  put(path.join(cg, 'cg', 'CGW', 'cgw.yaml'), cgwYaml);
  const o = push(['--json', cg], { dataDir, config: over });
  assert.equal(o.status, 3, o.stderr);
  assert.match((JSON.parse(o.stdout) as Report).problems.map((p) => p.message).join('\n'), /overlaps the data directory/);

  const modesCfg = path.join(work, 'modes.yaml');
  writeFileSync(modesCfg, 'repositories:\n  rawd:\n    type: directory\n    distributors:\n      - {type_id: directory_distributor}\n      - {type_id: export_distributor, id: tar, config: {tar: true, relative_url: rawd-tar}}\n      - {type_id: export_distributor, id: tree, config: {mode: tree, relative_url: rawd-tree}}\n');
  const rawd = path.join(work, 'rawd');
  put(path.join(rawd, 'rawd', 'RAW', 'run.sh'), '#!/bin/sh\n');
  chmodSync(path.join(rawd, 'rawd', 'RAW', 'run.sh'), 0o755);
  put(path.join(rawd, 'rawd', 'RAW', 'doc.txt'), 'doc\n');
  const m = push(['--json', rawd], { dataDir, config: modesCfg });
  assert.equal(m.status, 0, m.stderr);
  const listing = spawnSync('tar', ['-tvf', path.join(dataDir, 'published', 'export', 'rawd-tar', 'rawd.tar')], { encoding: 'utf8' }).stdout;
  assert.match(listing, /^-rwxr-xr-x .* run\.sh$/m);
  assert.match(listing, /^-rw-r--r-- .* doc\.txt$/m);
  assert.equal(statSync(path.join(dataDir, 'published', 'export', 'rawd-tree', 'run.sh')).mode & 0o777, 0o755);
  assert.equal(statSync(path.join(dataDir, 'published', 'export', 'rawd-tree', 'doc.txt')).mode & 0o777, 0o644);
});
