import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { loadHandlers } from '../../src/agent/loader.js';
import { Agent } from '../../src/agent/agent.js';
import { ConsumerService } from '../../src/agent/consumers.js';
import { parseRpmUnit } from '../../src/agent/units.js';
import type { ContentUnitSpec, HandlerConduit } from '../../src/agent/handler.js';
import { YumBindHandler } from '../../src/agent/handlers/yum-bind.js';
import { FileBindHandler } from '../../src/agent/handlers/file-bind.js';
import { assertInsideRoot } from '../../src/agent/handlers/inside.js';
import { StagepushError } from '../../src/errors.js';
import { FIXTURES_BUILD, tempDir } from '../helpers/cli.js';
import { CONTENT_TYPES, DISTRIBUTOR_TYPES, memoryEngine, memoryLog, writeFiles } from '../helpers/agent.js';

const RPMS = path.join(FIXTURES_BUILD, 'rpms');

async function service(confFiles: Record<string, string> = {}, handlerFiles: Record<string, string> = {}) {
  const dir = tempDir('agent-handlers-');
  const conf = path.join(dir, 'conf.d');
  mkdirSync(conf, { recursive: true });
  writeFiles(conf, confFiles);
  writeFiles(path.join(dir, 'handlers'), handlerFiles);
  const registry = await loadHandlers({ confDir: conf, handlersDir: path.join(dir, 'handlers'), contentTypes: CONTENT_TYPES, distributorTypes: DISTRIBUTOR_TYPES });
  assert.deepEqual(registry.problems, []);
  const engine = memoryEngine();
  const log = memoryLog();
  const svc = new ConsumerService(engine, new Agent(registry, log, { osType: 'Linux' }), () => {});
  return { dir, engine, svc, log };
}

function rpmQa(root: string): string[] {
  const r = spawnSync('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-qa', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l && !l.startsWith('gpg-pubkey'));
}

function createrepo(dir: string): void {
  const r = spawnSync('createrepo_c', ['-q', '--update', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

test('rpm units: name[-[epoch:]version-release[.arch]]', () => {
  assert.deepEqual(parseRpmUnit('hello'), { name: 'hello' });
  assert.deepEqual(parseRpmUnit('hello-1.0-1'), { name: 'hello', version: '1.0', release: '1' });
  assert.deepEqual(parseRpmUnit('my-pkg-2:1.0-1.el9.x86_64'), { name: 'my-pkg', epoch: '2', version: '1.0', release: '1.el9', arch: 'x86_64' });
  assert.deepEqual(parseRpmUnit('python3-foo'), { name: 'python3-foo' });
  assert.deepEqual(parseRpmUnit('hello-1.1-1.noarch'), { name: 'hello', version: '1.1', release: '1', arch: 'noarch' });
  assert.throws(() => parseRpmUnit('bad name'), /expected name\[-\[epoch:\]version-release\[\.arch\]\]/);
  // rpm's own characters: a name starts with a letter, digit or _; versions hold ~ and ^.
  assert.deepEqual(parseRpmUnit('libstdc++-13.2-1.el9.x86_64'), { name: 'libstdc++', version: '13.2', release: '1.el9', arch: 'x86_64' });
  assert.deepEqual(parseRpmUnit('389-ds-base'), { name: '389-ds-base' });
  assert.deepEqual(parseRpmUnit('_x-1.0~rc1-1^git2'), { name: '_x', version: '1.0~rc1', release: '1^git2' });
});

test('rpm units: a dnf option (anything starting with "-") or a character rpm does not allow is AGENT_BAD_UNIT', () => {
  for (const spec of ['--nogpgcheck', '--setopt=gpgcheck=0', '-x', '-y', '--', '-hello', 'hello*', 'a;b', 'hello-1.0-1 --nogpgcheck']) {
    assert.throws(
      () => parseRpmUnit(spec),
      (e: { code?: string; message?: string }) => e.code === 'AGENT_BAD_UNIT' && e.message!.includes(`"${spec}"`),
      spec,
    );
  }
  assert.throws(() => parseRpmUnit('--nogpgcheck'), /a unit is never a dnf option/);
});

test('rpm handler: the specs reach dnf after "--", and a unit object that would make a dnf option is refused before dnf runs', async () => {
  const { dir, svc } = await service();
  const root = path.join(dir, 'root');
  mkdirSync(root);
  svc.register('h', root);
  // A dnf that only records its arguments, one a line.
  const calls = path.join(dir, 'dnf-args');
  const fakeDnf = path.join(dir, 'fake-dnf');
  writeFileSync(fakeDnf, `#!/bin/sh\nprintf '%s\\n' "$@" > '${calls}'\n`, { mode: 0o755 });
  const argv = () => readFileSync(calls, 'utf8').split('\n').slice(0, -1);
  const cases: Array<['install' | 'update' | 'uninstall', string, ContentUnitSpec[], string[]]> = [
    ['install', 'install', [{ name: 'hello' }, { name: 'world', version: '1.0', release: '1', arch: 'noarch' }], ['hello', 'world-1.0-1.noarch']],
    ['update', 'upgrade', [{ name: 'hello' }], ['hello']],
    ['update', 'upgrade', [], []],
    ['uninstall', 'remove', [{ name: 'hello', arch: 'noarch' }], ['hello.noarch']],
  ];
  for (const [op, dnfOp, units, specs] of cases) {
    const r = await svc.content(op, 'h', 'rpm', units, { dnf: fakeDnf });
    assert.equal(r.succeeded, true, JSON.stringify(r.details));
    const args = argv();
    assert.deepEqual(args.slice(args.indexOf(dnfOp)), [dnfOp, '--', ...specs], `${op}: ${args.join(' ')}`);
  }
  rmSync(calls);
  // A request option with a bad value: a coded error naming it, no stack trace, dnf not run.
  const opt = await svc.content('install', 'h', 'rpm', [{ name: 'hello' }], { dnf: fakeDnf, import_key: 'yes please' });
  assert.equal(opt.succeeded, false);
  assert.deepEqual(opt.details, { code: 'AGENT_BAD_OPTION', message: 'option import_key: expected true|yes|1 or false|no|0, got "yes please"', field: 'import_key' });
  assert.equal(existsSync(calls), false, 'dnf did not run');
  for (const unit of [{ name: '--nogpgcheck' }, { name: '--setopt=gpgcheck=0' }, { name: 'hello', version: '1.0', release: '1 --nogpgcheck' }, { name: 'hello', arch: 'noarch --nogpgcheck' }]) {
    const r = await svc.content('install', 'h', 'rpm', [unit, { name: 'hello' }], { dnf: fakeDnf });
    assert.equal(r.succeeded, false, JSON.stringify(unit));
    assert.match(String(r.details.message), /is not name\[-\[epoch:\]version-release\[\.arch\]\]/, JSON.stringify(unit));
    assert.equal(existsSync(calls), false, `${JSON.stringify(unit)}: dnf did not run`);
  }
});

test('yum bind + rpm handler with real dnf: bind, install, refuse unsigned, update, profile, uninstall, unbind, clean', async () => {
  const { dir, engine, svc } = await service();
  const publishRoot = path.join(dir, 'published');
  const repoDir = path.join(publishRoot, 'http', 'repos', 'agent-test');
  mkdirSync(repoDir, { recursive: true });
  const matrix = JSON.parse(readFileSync(path.join(RPMS, 'matrix.json'), 'utf8')) as { install: Record<string, { file: string; key: string | null }> };
  for (const k of ['hello-1.0', 'world-1.0']) copyFileSync(path.join(RPMS, matrix.install[k]!.file), path.join(repoDir, path.basename(matrix.install[k]!.file)));
  createrepo(repoDir);
  const key = readFileSync(path.join(RPMS, 'keys', `${matrix.install['hello-1.0']!.key}.asc`), 'utf8');
  engine.repos.set('agent-test', {
    distributors: [{ id: 'yum', typeId: 'yum_distributor' }],
    payloads: {
      yum: { repo_id: 'agent-test', repo_name: 'Agent test', server_name: 'localhost', relative_path: 'repos/agent-test', protocols: ['http'], base_urls: { http: `file://${publishRoot}/http` }, gpg_keys: { rsa: key }, ca_cert: null },
    },
    units: [],
  });
  const root = path.join(dir, 'root');
  mkdirSync(root);
  svc.register('host1', root);

  const b = await svc.bind('host1', 'agent-test');
  assert.equal(b.succeeded, true, JSON.stringify(b.details));
  const repoFile = path.join(root, 'etc/yum.repos.d/stagepush.repo');
  const text = readFileSync(repoFile, 'utf8');
  assert.match(text, /^\[agent-test\]$/m);
  assert.match(text, new RegExp(`^baseurl=file://${publishRoot}/http/repos/agent-test/$`, 'm'));
  assert.match(text, /^gpgcheck=1$/m);
  const keyFile = path.join(root, 'etc/yum.repos.d/stagepush-keys/agent-test/rsa.gpg');
  assert.match(text, new RegExp(`^gpgkey=file://${keyFile}$`, 'm'));
  assert.equal(readFileSync(keyFile, 'utf8'), key.endsWith('\n') ? key : key + '\n');
  assert.equal(engine.consumers.bindings('host1')[0]?.typeId, 'yum_distributor');
  assert.equal(b.numChanges, 1);
  // Bound again, exactly so: no change, nothing rewritten.
  const mtimes = () => [repoFile, keyFile].map((f) => statSync(f).mtimeMs);
  const before = mtimes();
  await sleep(20);
  const again = await svc.bind('host1', 'agent-test');
  assert.equal(again.succeeded, true);
  assert.equal(again.numChanges, 0);
  assert.deepEqual(mtimes(), before);
  // One consumer per root.
  assert.throws(() => svc.register('host2', root), (e: { code?: string }) => e.code === 'AGENT_ROOT_TAKEN');

  const i = await svc.content('install', 'host1', 'rpm', [parseRpmUnit('hello')], { releasever: '1' });
  assert.equal(i.succeeded, true, JSON.stringify(i.details, null, 1));
  assert.deepEqual(i.details.installed, ['hello-1.0-1.noarch']);
  assert.equal(i.numChanges, 1);
  assert.deepEqual(rpmQa(root), ['hello-1.0-1.noarch']);
  const stored = engine.consumers.getProfile('host1', 'rpm') as { packages: Array<{ nevra: string }> };
  assert.deepEqual(stored.packages.map((p) => p.nevra), ['hello-1.0-1.noarch'], 'profile stored after the install');

  // world is unsigned and the repository checks signatures: refused, nothing installed.
  const w = await svc.content('install', 'host1', 'rpm', [parseRpmUnit('world')], { releasever: '1' });
  assert.equal(w.succeeded, false);
  assert.match(String(w.details.message), /dnf install failed/);
  assert.match(String(w.details.output), /not signed/);
  assert.deepEqual(rpmQa(root), ['hello-1.0-1.noarch']);
  // Nor with a unit that dnf would read as an option turning the signature check off.
  for (const opt of ['--nogpgcheck', '--setopt=gpgcheck=0']) {
    const o = await svc.content('install', 'host1', 'rpm', [{ name: opt }, { name: 'world' }], { releasever: '1' });
    assert.equal(o.succeeded, false, opt);
    assert.match(String(o.details.message), /a unit is never a dnf option/, opt);
    assert.deepEqual(rpmQa(root), ['hello-1.0-1.noarch'], opt);
  }

  // A newer version is published later.
  copyFileSync(path.join(RPMS, matrix.install['hello-1.1']!.file), path.join(repoDir, 'hello-1.1-1.noarch.rpm'));
  createrepo(repoDir);
  const u = await svc.content('update', 'host1', 'rpm', [parseRpmUnit('hello')], { releasever: '1' });
  assert.equal(u.succeeded, true, JSON.stringify(u.details, null, 1));
  assert.deepEqual(u.details.installed, ['hello-1.1-1.noarch']);
  assert.deepEqual(u.details.erased, ['hello-1.0-1.noarch']);
  assert.equal(u.numChanges, 1, 'an upgrade is one change');
  assert.deepEqual(rpmQa(root), ['hello-1.1-1.noarch']);

  const p = await svc.profile('host1', 'rpm');
  assert.equal(p.succeeded, true);
  assert.deepEqual((p.details.packages as Array<{ nevra: string }>).map((x) => x.nevra), ['hello-1.1-1.noarch']);

  const un = await svc.content('uninstall', 'host1', 'rpm', [parseRpmUnit('hello-1.1-1.noarch')], { releasever: '1' });
  assert.equal(un.succeeded, true, JSON.stringify(un.details, null, 1));
  assert.deepEqual(un.details.erased, ['hello-1.1-1.noarch']);
  assert.deepEqual(rpmQa(root), []);

  const ub = await svc.unbind('host1', 'agent-test');
  assert.equal(ub.succeeded, true);
  assert.equal(existsSync(repoFile), false, 'last section gone: the repo file is removed');
  assert.equal(existsSync(keyFile), false);
  assert.deepEqual(engine.consumers.bindings('host1'), []);

  await svc.bind('host1', 'agent-test');
  assert.ok(existsSync(repoFile));
  const c = await svc.clean('host1');
  assert.equal(c.succeeded, true);
  assert.equal(existsSync(repoFile), false);
  assert.equal(existsSync(path.dirname(keyFile)), false);
  assert.deepEqual(engine.consumers.bindings('host1'), []);

  // A consumer whose root is gone: profile and content operations fail, nothing is made.
  const gone = path.join(dir, 'gone');
  mkdirSync(gone);
  svc.register('host3', gone);
  rmSync(gone, { recursive: true });
  const gp = await svc.profile('host3', 'rpm');
  assert.equal(gp.succeeded, false);
  assert.match(String(gp.details.message), /consumer root .*gone does not exist/);
  const gi = await svc.content('install', 'host3', 'rpm', [parseRpmUnit('hello')], { releasever: '1' });
  assert.equal(gi.succeeded, false);
  assert.equal(existsSync(gone), false);
});

test('rpm handler without import_key: a package whose key is not in the rpm database is refused; a directory consumer is never rebooted', async () => {
  const { dir, engine, svc, log } = await service({ 'rpm.conf': '[main]\nenabled=1\n[types]\ncontent=rpm\n[rpm]\nclass=stagepush:RpmHandler\nimport_key=0\nreleasever=1\n' });
  const publishRoot = path.join(dir, 'published');
  const repoDir = path.join(publishRoot, 'http', 'r2');
  mkdirSync(repoDir, { recursive: true });
  copyFileSync(path.join(RPMS, 'install', 'hello-1.0-1.noarch.rpm'), path.join(repoDir, 'hello-1.0-1.noarch.rpm'));
  createrepo(repoDir);
  const key = readFileSync(path.join(RPMS, 'keys', 'rsa.asc'), 'utf8');
  engine.repos.set('r2', {
    distributors: [{ id: 'yum_distributor', typeId: 'yum_distributor' }],
    payloads: { yum_distributor: { repo_id: 'r2', relative_path: 'r2', protocols: ['https', 'http'], base_urls: { http: `file://${publishRoot}/http` }, gpg_keys: { rsa: key }, ca_cert: null } },
    units: [],
  });
  const root = path.join(dir, 'root');
  mkdirSync(root);
  svc.register('h2', root);
  assert.equal((await svc.bind('h2', 'r2')).succeeded, true);
  const refused = await svc.content('install', 'h2', 'rpm', [{ name: 'hello' }], {});
  assert.equal(refused.succeeded, false);
  assert.match(String(refused.details.output), /GPG public keys/);
  assert.deepEqual(rpmQa(root), []);
  // hello stands for a package needing a reboot (as linux-firmware does), permitted: the root is a
  // directory tree standing for another host, so this host is not rebooted (neither shutdown nor
  // reboot_command runs: the system handler is not called) and the report says why.
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  const calls = path.join(dir, 'shutdown-calls');
  writeFileSync(path.join(bin, 'shutdown'), `#!/bin/sh\necho "$*" >> '${calls}'\n`, { mode: 0o755 });
  const prevPath = process.env.PATH;
  process.env.PATH = `${bin}:${prevPath}`;
  try {
    for (const extra of [{}, { reboot_command: `echo reboot_command >> '${calls}'` }]) {
      const ok = await svc.content('install', 'h2', 'rpm', [{ name: 'hello' }], { import_key: 'true', reboot_packages: 'kernel,hello', permit_reboot: 'yes', ...extra });
      assert.equal(ok.succeeded, true, JSON.stringify(ok.details, null, 1));
      assert.deepEqual(rpmQa(root), ['hello-1.0-1.noarch']);
      assert.equal(ok.reboot.required, true);
      assert.equal(ok.reboot.permitted, true);
      assert.equal(ok.reboot.scheduled, false);
      assert.deepEqual((ok.reboot.details as { packages: string[] }).packages, ['hello'], 'the packages needing the reboot are kept beside the outcome');
      assert.equal((ok.reboot.details as { report: string }).report, 'RebootReport');
      const rd = (ok.reboot.details as { details: { code: string; message: string } }).details;
      assert.equal(rd.code, 'AGENT_REBOOT_NOT_THIS_HOST');
      assert.match(rd.message, new RegExp(`the root ${root}, a directory tree standing for another host, not this host: it is not rebooted`));
      assert.equal((await svc.content('uninstall', 'h2', 'rpm', [{ name: 'hello' }], { permit_reboot: 'no' })).succeeded, true);
    }
    const rb = await svc.reboot('h2', {});
    assert.equal(rb.succeeded, false);
    assert.equal(rb.details.code, 'AGENT_REBOOT_NOT_THIS_HOST');
    assert.ok(!log.lines.some((l) => l.includes('LinuxHandler reboot')), 'the system handler was not called');
    assert.equal(existsSync(calls), false, 'neither shutdown nor reboot_command ran');
  } finally {
    process.env.PATH = prevPath;
  }
  assert.equal((await svc.content('install', 'h2', 'rpm', [{ name: 'hello' }], {})).succeeded, true);
  // Not permitted: the report asks for a reboot, none is scheduled.
  const again = await svc.content('uninstall', 'h2', 'rpm', [{ name: 'hello' }], { reboot_packages: 'hello', permit_reboot: 'no' });
  assert.equal(again.succeeded, true, JSON.stringify(again.details, null, 1));
  assert.deepEqual(again.reboot, { required: true, permitted: false, scheduled: false, details: { packages: ['hello'] } });
});

test("rpm handler: the rpm database is the root's /var/lib/rpm whoever runs it (an EL tree's packages are seen, installs land there; another HOME changes nothing)", async () => {
  const { dir, engine, svc } = await service();
  const publishRoot = path.join(dir, 'published');
  const repoDir = path.join(publishRoot, 'http', 'el');
  mkdirSync(repoDir, { recursive: true });
  copyFileSync(path.join(RPMS, 'install', 'hello-1.0-1.noarch.rpm'), path.join(repoDir, 'hello-1.0-1.noarch.rpm'));
  createrepo(repoDir);
  const key = readFileSync(path.join(RPMS, 'keys', 'rsa.asc'), 'utf8');
  engine.repos.set('el', {
    distributors: [{ id: 'yum', typeId: 'yum_distributor' }],
    payloads: { yum: { repo_id: 'el', relative_path: 'el', protocols: ['http'], base_urls: { http: `file://${publishRoot}/http` }, gpg_keys: { rsa: key }, ca_cert: null } },
    units: [],
  });
  // A tree standing for an EL host: its rpm database in var/lib/rpm, holding world.
  const root = path.join(dir, 'root');
  mkdirSync(root);
  const rpm = (...args: string[]) => {
    const r = spawnSync('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  rpm('--initdb');
  rpm('-i', '--justdb', '--nodeps', '--nosignature', path.join(RPMS, 'install', 'world-1.0-1.noarch.rpm'));
  svc.register('el9', root);
  assert.equal((await svc.bind('el9', 'el')).succeeded, true);
  const nevras = async () => ((await svc.profile('el9', 'rpm')).details.packages as Array<{ nevra: string }>).map((x) => x.nevra);
  const prevHome = process.env.HOME;
  try {
    for (const home of [prevHome, path.join(dir, 'somewhere', 'else')]) {
      process.env.HOME = home;
      assert.deepEqual(await nevras(), ['world-1.0-1.noarch'], `HOME=${home}`);
      const i = await svc.content('install', 'el9', 'rpm', [{ name: 'hello' }], { releasever: '1' });
      assert.equal(i.succeeded, true, JSON.stringify(i.details, null, 1));
      assert.deepEqual(i.details.installed, ['hello-1.0-1.noarch'], `HOME=${home}`);
      assert.deepEqual(rpmQa(root).sort(), ['hello-1.0-1.noarch', 'world-1.0-1.noarch'], `HOME=${home}: in the root's /var/lib/rpm`);
      assert.deepEqual(await nevras(), ['hello-1.0-1.noarch', 'world-1.0-1.noarch']);
      const un = await svc.content('uninstall', 'el9', 'rpm', [{ name: 'hello' }], { releasever: '1' });
      assert.deepEqual(un.details.erased, ['hello-1.0-1.noarch'], `HOME=${home}`);
      assert.deepEqual(rpmQa(root), ['world-1.0-1.noarch']);
    }
  } finally {
    process.env.HOME = prevHome;
  }
  // No other database was made under the root (Debian's default is ~/.rpmdb).
  const found = spawnSync('find', [root, '-name', '.rpmdb'], { encoding: 'utf8' });
  assert.equal(found.stdout, '');
});

test('rpm handler: dnf and rpm never write through a symlink out of the consumer root (var, its logs, caches, rpm database)', async () => {
  const { dir, svc } = await service();
  const outside = path.join(dir, 'outside');
  const cases: Array<[string, (root: string) => void, RegExp]> = [
    ['var is a symlink out', (root) => symlinkSync(outside, path.join(root, 'var')), /the rpm database directory .* leads out of the consumer root/],
    ['var/log is a symlink out', (root) => symlinkSync(outside, path.join(root, 'var', 'log')), /the dnf log .*dnf\.log leads out of the consumer root/],
    ['a log file is a symlink out', (root) => symlinkSync(path.join(outside, 'victim'), path.join(root, 'var', 'log', 'dnf.rpm.log')), /the dnf log .*dnf\.rpm\.log leads out/],
    ['a log file is a symlink to a missing file', (root) => symlinkSync(path.join(outside, 'missing'), path.join(root, 'var', 'log', 'hawkey.log')), /hawkey\.log leads through .*, a symlink to a missing target/],
    ['a directory in the dnf cache is a symlink out', (root) => symlinkSync(outside, path.join(root, 'var', 'cache', 'stagepush-dnf', 'el-0123')), /the dnf cache directory .* leads out/],
    ['var/lib/dnf is a symlink out', (root) => symlinkSync(outside, path.join(root, 'var', 'lib', 'dnf')), /the dnf persistent data directory .* leads out/],
    ['the rpm database file is a symlink out', (root) => symlinkSync(path.join(outside, 'victim'), path.join(root, 'var', 'lib', 'rpm', 'rpmdb.sqlite')), /the rpm database directory .* leads out/],
  ];
  let n = 0;
  for (const [label, make, message] of cases) {
    rmSync(outside, { recursive: true, force: true });
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'victim'), 'host file\n');
    const root = path.join(dir, `root${n}`);
    for (const d of ['var/log', 'var/cache/stagepush-dnf', 'var/lib/rpm']) mkdirSync(path.join(root, d), { recursive: true });
    if (label.startsWith('var is')) rmSync(path.join(root, 'var'), { recursive: true });
    if (label.startsWith('var/log')) rmSync(path.join(root, 'var', 'log'), { recursive: true });
    make(root);
    svc.register(`c${n++}`, root);
    const r = await svc.content('install', `c${n - 1}`, 'rpm', [{ name: 'hello' }], { releasever: '1' });
    assert.equal(r.succeeded, false, label);
    assert.match(String(r.details.message), message, label);
    assert.deepEqual(readdirSync(outside), ['victim'], `${label}: nothing written outside`);
    assert.equal(readFileSync(path.join(outside, 'victim'), 'utf8'), 'host file\n', label);
  }
  // The profile (rpm opens, or makes, the database) is refused as well.
  const p = await svc.profile('c0', 'rpm');
  assert.equal(p.succeeded, false);
  assert.deepEqual(readdirSync(outside), ['victim']);
});

test('yum bind writes the display name as one line (control characters become spaces: no forged lines or sections); a repo_id or URL with one is refused', async () => {
  const { dir, engine, svc } = await service();
  const payload = { repo_id: 'r', repo_name: 'Evil\n[forged]\nbaseurl=http://evil.example/\r\ngpgcheck=0\tx\u0007', relative_path: 'r', protocols: ['http'], base_urls: { http: 'http://ok.example' }, gpg_keys: {}, ca_cert: null };
  engine.repos.set('r', { distributors: [{ id: 'yum', typeId: 'yum_distributor' }], payloads: { yum: payload }, units: [] });
  const root = path.join(dir, 'root');
  mkdirSync(root);
  svc.register('c', root);
  const b = await svc.bind('c', 'r');
  assert.equal(b.succeeded, true, JSON.stringify(b.details));
  const text = readFileSync(path.join(root, 'etc/yum.repos.d/stagepush.repo'), 'utf8');
  assert.deepEqual([...text.matchAll(/^\[([^\]]+)\]$/gm)].map((m) => m[1]), ['r']);
  assert.match(text, /^name=Evil \[forged\] baseurl=http:\/\/evil\.example\/ gpgcheck=0 x$/m);
  assert.deepEqual(text.match(/^baseurl=.*$/gm), ['baseurl=http://ok.example/r/']);
  assert.deepEqual(text.match(/^gpgcheck=.*$/gm), ['gpgcheck=0']);
  // A name of control characters only: the repository id.
  engine.repos.get('r')!.payloads.yum = { ...payload, repo_name: '\n\n' };
  await svc.bind('c', 'r');
  assert.match(readFileSync(path.join(root, 'etc/yum.repos.d/stagepush.repo'), 'utf8'), /^name=r$/m);
  // What makes the section header or baseurl is refused, not changed.
  for (const [field, bad, message] of [
    ['repo_id', { repo_id: 's\n[x]' }, /repo_id "s\\n\[x\]" has a control character or a bracket/],
    ['relative_path', { repo_id: 's', relative_path: 's\ngpgcheck=0' }, /relative_path .* has a control character or a space/],
    ['base_urls', { repo_id: 's', base_urls: { http: 'http://a\nb' } }, /base_urls\.http .* has a control character or a space/],
  ] as const) {
    engine.repos.set('s', { distributors: [{ id: 'yum', typeId: 'yum_distributor' }], payloads: { yum: { ...payload, ...bad } }, units: [] });
    const r = await svc.bind('c', 's');
    assert.equal(r.succeeded, false, field);
    assert.match(String(r.details.message), message, field);
    assert.deepEqual(engine.consumers.bindings('c').map((x) => x.repoId), ['r'], field);
  }
});

test('a bind handler configured with the consumer root itself where a file or a removable directory is needed refuses it by name (no stack trace, nothing written or removed); a path out of the root with no symlink is not said to go through one', async () => {
  const dir = tempDir('agent-root-itself-');
  const root = path.join(dir, 'root');
  mkdirSync(path.join(root, 'keep'), { recursive: true });
  writeFileSync(path.join(root, 'keep', 'f'), 'x');
  const conduit = { consumerId: 'c', root } as unknown as HandlerConduit;
  // Configured otherwise than by a descriptor (whose load refuses these: see loader.test.ts).
  const yum = new YumBindHandler({ repo_file: '/' }, 'yum_distributor');
  const bind = new FileBindHandler({ bindings_dir: '.' }, 'iso_distributor');
  for (const [what, fn, field] of [
    ['repo file', () => yum.repoFile(conduit), 'repo_file'],
    ['clean', () => bind.clean(conduit, {}), 'bindings_dir'],
  ] as const) {
    assert.throws(fn, (e: unknown) => e instanceof StagepushError && e.code === 'AGENT_HANDLER_BAD_SETTING' && e.field === field && /the consumer root itself/.test(e.message), what);
  }
  assert.deepEqual(readdirSync(root), ['keep'], 'the root is left as it was');
  // Out of the root as written: no symlink to name.
  const out = path.join(root, '..', 'stagepush-keys');
  assert.throws(() => assertInsideRoot(root, out, 'the key files directory'), { message: `the key files directory ${out} is out of the consumer root ${root}` });
  // Through a symlink: named.
  symlinkSync(dir, path.join(root, 'up'));
  assert.throws(() => assertInsideRoot(root, path.join(root, 'up', 'x'), 'the key files directory'), { message: `the key files directory ${path.join(root, 'up', 'x')} leads out of the consumer root ${root} (through a symlink: ${path.join(root, 'up')} is ${dir})` });
});

test('clean and unbind remove only what the bind handlers wrote: a bindings_dir of /var keeps the rpm database and its other files, a repo_file of another tool keeps its sections', async () => {
  const { dir, engine, svc } = await service({
    'file-bind.conf': '[main]\nenabled=1\n[types]\nbind=iso_distributor\n[iso_distributor]\nclass=stagepush:FileBindHandler\nbindings_dir=/var\n',
    'yum.conf': '[main]\nenabled=1\n[types]\nbind=yum_distributor\n[yum_distributor]\nclass=stagepush:YumBindHandler\nrepo_file=/etc/yum.repos.d/fedora.repo\n',
  });
  const root = path.join(dir, 'root');
  // What the root holds anyway: the rpm database, another .json file (one that looks like a
  // binding file's name too), another tool's repo file with its section.
  writeFiles(root, {
    'var/lib/rpm/rpmdb.sqlite': 'db\n',
    'var/other.json': '{"keep": true}\n',
    'var/files2.json': '{"repoId": "other", "distributorId": "d", "typeId": "t", "payload": {}}\n',
    'etc/yum.repos.d/fedora.repo': '[fedora]\nname=Fedora\nbaseurl=http://fedora.example/\n',
  });
  const key = '-----BEGIN PGP PUBLIC KEY BLOCK-----\nx\n-----END PGP PUBLIC KEY BLOCK-----\n';
  engine.repos.set('files', { distributors: [{ id: 'iso', typeId: 'iso_distributor' }], payloads: { iso: { repo_id: 'files' } }, units: [] });
  engine.repos.set('files2', { distributors: [{ id: 'iso', typeId: 'iso_distributor' }], payloads: { iso: { repo_id: 'files2' } }, units: [] });
  engine.repos.set('y', { distributors: [{ id: 'yum', typeId: 'yum_distributor' }], payloads: { yum: { repo_id: 'y', relative_path: 'y', protocols: ['http'], base_urls: { http: 'http://x' }, gpg_keys: { rsa: key }, ca_cert: null } }, units: [] });
  svc.register('c', root);
  for (const repo of ['files', 'y']) assert.equal((await svc.bind('c', repo)).succeeded, true, repo);
  assert.ok(existsSync(path.join(root, 'var/files.json')));
  const keysDir = path.join(root, 'etc/yum.repos.d/stagepush-keys');
  assert.ok(existsSync(path.join(keysDir, 'y', 'rsa.gpg')));
  const c = await svc.clean('c');
  assert.equal(c.succeeded, true, JSON.stringify(c.details));
  assert.equal(readFileSync(path.join(root, 'var/lib/rpm/rpmdb.sqlite'), 'utf8'), 'db\n', 'the rpm database is kept');
  assert.deepEqual(readdirSync(path.join(root, 'var')).sort(), ['files2.json', 'lib', 'other.json'], 'only the binding file is removed');
  const fedora = readFileSync(path.join(root, 'etc/yum.repos.d/fedora.repo'), 'utf8');
  assert.deepEqual([...fedora.matchAll(/^\[([^\]]+)\]$/gm)].map((m) => m[1]), ['fedora'], 'the other section is kept, the bound one removed');
  assert.match(fedora, /^baseurl=http:\/\/fedora\.example\/$/m);
  assert.equal(existsSync(keysDir), false, 'the key files and their emptied directory are removed');
  assert.deepEqual(engine.consumers.bindings('c'), []);
  // unbind: a file of the binding file's name that bind did not write is kept.
  const fb = new FileBindHandler({ bindings_dir: '/var' }, 'iso_distributor');
  const u = fb.unbind({ consumerId: 'c', root } as unknown as HandlerConduit, 'other', {});
  assert.equal(u.details.removed, false);
  assert.equal(readFileSync(path.join(root, 'var/other.json'), 'utf8'), '{"keep": true}\n');
});

test('bind never replaces what it did not write: a file bind refuses a file of the binding name that is not that repository\'s binding (AGENT_BIND_FILE_TAKEN, the file kept); yum bind keeps the comments that head another tool\'s repo file', async () => {
  const { dir, engine, svc } = await service({
    'file-bind.conf': '[main]\nenabled=1\n[types]\nbind=iso_distributor\n[iso_distributor]\nclass=stagepush:FileBindHandler\nbindings_dir=/etc/tool\n',
    'yum.conf': '[main]\nenabled=1\n[types]\nbind=yum_distributor\n[yum_distributor]\nclass=stagepush:YumBindHandler\nrepo_file=/etc/yum.repos.d/fedora.repo\n',
  });
  const root = path.join(dir, 'root');
  const toolConfig = '{"settings": {"keep": true}}\n';
  const fedoraRepo = '# Managed by fedora-repos: do not remove this line\n\n[fedora]\nname=Fedora\nbaseurl=http://fedora.example/\n';
  writeFiles(root, { 'etc/tool/config.json': toolConfig, 'etc/yum.repos.d/fedora.repo': fedoraRepo });
  for (const id of ['config', 'files']) engine.repos.set(id, { distributors: [{ id: 'iso', typeId: 'iso_distributor' }], payloads: { iso: { repo_id: id } }, units: [] });
  engine.repos.set('y', { distributors: [{ id: 'yum', typeId: 'yum_distributor' }], payloads: { yum: { repo_id: 'y', relative_path: 'y', protocols: ['http'], base_urls: { http: 'http://x' }, ca_cert: null } }, units: [] });
  svc.register('c', root);
  const taken = await svc.bind('c', 'config');
  assert.equal(taken.succeeded, false);
  assert.equal(taken.details.code, 'AGENT_BIND_FILE_TAKEN');
  assert.match(String(taken.details.message), /etc\/tool\/config\.json exists and is not the binding file of config/);
  assert.equal(readFileSync(path.join(root, 'etc/tool/config.json'), 'utf8'), toolConfig);
  // Its own binding file is written, and rewritten (a payload changed).
  assert.equal((await svc.bind('c', 'files')).succeeded, true);
  engine.repos.get('files')!.payloads = { iso: { repo_id: 'files', changed: true } };
  const again = await svc.bind('c', 'files');
  assert.deepEqual([again.succeeded, again.numChanges], [true, 1]);
  assert.equal(JSON.parse(readFileSync(path.join(root, 'etc/tool/files.json'), 'utf8')).payload.changed, true);
  // yum: the head comment stays through bind and unbind (and clean).
  assert.equal((await svc.bind('c', 'y')).succeeded, true);
  const bound = readFileSync(path.join(root, 'etc/yum.repos.d/fedora.repo'), 'utf8');
  assert.ok(bound.startsWith('# Managed by fedora-repos: do not remove this line\n'), bound);
  assert.deepEqual([...bound.matchAll(/^\[([^\]]+)\]$/gm)].map((m) => m[1]), ['fedora', 'y']);
  assert.equal((await svc.clean('c')).succeeded, true);
  const after = readFileSync(path.join(root, 'etc/yum.repos.d/fedora.repo'), 'utf8');
  assert.ok(after.startsWith('# Managed by fedora-repos: do not remove this line\n'), after);
  assert.deepEqual([...after.matchAll(/^\[([^\]]+)\]$/gm)].map((m) => m[1]), ['fedora']);
});

test('file handler installs units from bound repositories into target_dir, verifying sha256', async () => {
  const { dir, engine, svc } = await service();
  const store = path.join(dir, 'store');
  mkdirSync(store);
  const a = path.join(store, 'a');
  writeFileSync(a, 'file A\n');
  const bad = path.join(store, 'bad');
  writeFileSync(bad, 'tampered\n');
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  engine.repos.set('files', {
    distributors: [{ id: 'iso', typeId: 'iso_distributor' }],
    payloads: {},
    units: [
      { repoId: 'files', typeId: 'iso', unitKey: { name: 'a.iso', checksum: sha('file A\n'), size: 7 }, metadata: {}, storagePath: a, sha256: sha('file A\n'), size: 7 },
      { repoId: 'files', typeId: 'iso', unitKey: { name: 'bad.iso', checksum: sha('original\n'), size: 9 }, metadata: {}, storagePath: bad, sha256: null, size: 9 },
    ],
  });
  const root = path.join(dir, 'root');
  mkdirSync(root);
  svc.register('f1', root);
  const r = await svc.content('install', 'f1', 'iso', [{ name: 'a.iso' }], { repo: 'files' });
  assert.equal(r.succeeded, true, JSON.stringify(r.details));
  const target = path.join(root, 'var/lib/stagepush/files');
  assert.equal(readFileSync(path.join(target, 'a.iso'), 'utf8'), 'file A\n');
  const again = await svc.content('install', 'f1', 'iso', [{ name: 'a.iso' }], { repo: 'files' });
  assert.equal(again.numChanges, 0);
  const m = await svc.content('install', 'f1', 'iso', [{ name: 'bad.iso' }, { name: 'nope.iso' }], { repo: 'files' });
  assert.equal(m.succeeded, false);
  assert.match(String(m.details.message), /not found in files: nope\.iso; bad\.iso: sha256 mismatch/);
  assert.equal(existsSync(path.join(target, 'bad.iso')), false, 'nothing installed on a mismatch');
  const p = await svc.profile('f1', 'iso');
  assert.deepEqual(p.details.files, [{ name: 'a.iso', sha256: sha('file A\n'), size: 7 }]);
  const un = await svc.content('uninstall', 'f1', 'iso', [{ name: 'a.iso' }], {});
  assert.equal(un.numChanges, 1);
  assert.equal(existsSync(path.join(target, 'a.iso')), false);
  // target_dir stays inside the consumer root.
  const out = await svc.content('install', 'f1', 'iso', [{ name: 'a.iso' }], { repo: 'files', target_dir: '../../escaped' });
  assert.equal(out.succeeded, false);
  assert.equal(out.details.code, 'AGENT_BAD_OPTION');
  assert.match(String(out.details.message), /target_dir: "\.\.\/\.\.\/escaped" leads out of the consumer root/);
  assert.equal(existsSync(path.join(dir, '..', 'escaped')), false);
});

test('clean: the bindings of the handlers that cleaned are forgotten, those of a failing one stay', async () => {
  const { dir, engine, svc } = await service(
    { 'acme.conf': '[main]\nenabled=1\n[types]\nbind=test_distributor\n[test_distributor]\nclass=acme:StuckBind\n' },
    {
      'acme.mjs':
        'export default (a) => ({ StuckBind: class extends a.BindHandler { bind() { return new a.BindReport().setSucceeded({}, 1); } unbind() { return new a.BindReport(); } clean() { throw new Error("clean exploded"); } } });\n',
    },
  );
  engine.repos.set('files', { distributors: [{ id: 'iso', typeId: 'iso_distributor' }], payloads: { iso: { repo_id: 'files' } }, units: [] });
  engine.repos.set('other', { distributors: [{ id: 't', typeId: 'test_distributor' }], payloads: { t: { repo_id: 'other' } }, units: [] });
  const root = path.join(dir, 'root');
  mkdirSync(root);
  svc.register('c1', root);
  assert.equal((await svc.bind('c1', 'files')).succeeded, true);
  assert.equal((await svc.bind('c1', 'other')).succeeded, true);
  const bindingFile = path.join(root, 'etc/stagepush/file-repos/files.json');
  assert.ok(existsSync(bindingFile));
  const c = await svc.clean('c1');
  assert.equal(c.succeeded, false);
  assert.match(JSON.stringify(c.details), /clean exploded/);
  assert.equal(existsSync(bindingFile), false, 'the file bind handler cleaned');
  assert.deepEqual(engine.consumers.bindings('c1').map((b) => b.repoId), ['other'], "only the failing handler's binding stays");
});

test('clean and unregister keep the bindings (and the consumer) whose bind handler is not loaded: a refused conf.d override of yum.conf', async () => {
  const { dir, engine, svc } = await service();
  engine.repos.set('y', {
    distributors: [{ id: 'yum', typeId: 'yum_distributor' }],
    payloads: { yum: { repo_id: 'y', relative_path: 'y', protocols: ['http'], base_urls: { http: 'http://x' }, gpg_keys: {}, ca_cert: null } },
    units: [],
  });
  engine.repos.set('files', { distributors: [{ id: 'iso', typeId: 'iso_distributor' }], payloads: { iso: { repo_id: 'files' } }, units: [] });
  const root = path.join(dir, 'root');
  mkdirSync(root);
  svc.register('c1', root);
  assert.equal((await svc.bind('c1', 'y')).succeeded, true);
  assert.equal((await svc.bind('c1', 'files')).succeeded, true);
  const repoFile = path.join(root, 'etc/yum.repos.d/stagepush.repo');
  assert.ok(existsSync(repoFile));
  // The same engine, with a conf.d yum.conf that has a typo: refused, and the built-in is replaced.
  const conf = path.join(dir, 'conf2.d');
  writeFiles(conf, { 'yum.conf': '[main]\nenabled=1\n[types]\nbind=yum_distributor\n[yum_distributor]\nclass=stagepush:YumBindHandlr\n' });
  const registry = await loadHandlers({ confDir: conf, handlersDir: path.join(dir, 'handlers'), contentTypes: CONTENT_TYPES, distributorTypes: DISTRIBUTOR_TYPES });
  assert.equal(registry.find('bind', 'yum_distributor'), undefined);
  const broken = new ConsumerService(engine, new Agent(registry, memoryLog(), { osType: 'Linux' }), () => {});
  const c = await broken.clean('c1');
  assert.equal(c.succeeded, false);
  const part = c.parts.yum_distributor!;
  assert.equal(part.succeeded, false);
  assert.equal(part.details.code, 'AGENT_NO_HANDLER');
  assert.match(String(part.details.message), /no bind handler for type "yum_distributor" is loaded: the configuration of the binding to y cannot be removed and it is kept/);
  assert.equal(c.parts.iso_distributor?.succeeded, true, 'the loaded handlers still clean');
  assert.deepEqual(engine.consumers.bindings('c1').map((b) => b.repoId), ['y'], 'the binding without a handler is kept');
  assert.ok(existsSync(repoFile), 'and so is its repo file');
  const u = await broken.unregister('c1');
  assert.equal(u.succeeded, false);
  assert.equal(u.details.unregistered, null);
  assert.ok(engine.consumers.get('c1'), 'the consumer is kept');
  // With the handler back, clean removes the file and forgets the binding.
  const ok = await svc.unregister('c1');
  assert.equal(ok.succeeded, true, JSON.stringify(ok.details));
  assert.equal(existsSync(repoFile), false);
  assert.equal(engine.consumers.get('c1'), null);
});

test('a consumer whose root is gone can still be cleaned and unregistered (the bind handlers have nothing to remove)', async () => {
  const { dir, engine, svc } = await service();
  engine.repos.set('files', { distributors: [{ id: 'iso', typeId: 'iso_distributor' }], payloads: { iso: { repo_id: 'files' } }, units: [] });
  const root = path.join(dir, 'gone');
  mkdirSync(root);
  svc.register('c1', root);
  assert.equal((await svc.bind('c1', 'files')).succeeded, true);
  rmSync(root, { recursive: true });
  const u = await svc.unregister('c1');
  assert.equal(u.succeeded, true, JSON.stringify(u.details));
  assert.equal(engine.consumers.get('c1'), null);
});

test('handlers never write or remove through a symlink out of the consumer root: yum bind key files, file install/uninstall; profile does not follow one', async () => {
  const { dir, engine, svc } = await service();
  const victim = path.join(dir, 'victim');
  mkdirSync(path.join(victim, 'y'), { recursive: true });
  writeFileSync(path.join(victim, 'y', 'data'), 'keep\n');
  writeFileSync(path.join(victim, 'data'), 'keep\n');
  engine.repos.set('y', {
    distributors: [{ id: 'yum', typeId: 'yum_distributor' }],
    payloads: { yum: { repo_id: 'y', relative_path: 'y', protocols: ['http'], base_urls: { http: 'http://x' }, gpg_keys: { rsa: '-----BEGIN PGP PUBLIC KEY BLOCK-----\nx\n-----END PGP PUBLIC KEY BLOCK-----\n' }, ca_cert: null } },
    units: [],
  });
  const root = path.join(dir, 'root');
  mkdirSync(path.join(root, 'etc', 'yum.repos.d'), { recursive: true });
  symlinkSync(victim, path.join(root, 'etc', 'yum.repos.d', 'stagepush-keys'));
  svc.register('c', root);
  const b = await svc.bind('c', 'y');
  assert.equal(b.succeeded, false, JSON.stringify(b.details));
  assert.match(JSON.stringify(b.details), /leads out of the consumer root/);
  assert.equal(readFileSync(path.join(victim, 'y', 'data'), 'utf8'), 'keep\n');
  // The file handler: a symlinked subdirectory of target_dir.
  const target = path.join(root, 'var/lib/stagepush/files');
  mkdirSync(target, { recursive: true });
  symlinkSync(victim, path.join(target, 'sub'));
  const u = await svc.content('uninstall', 'c', 'iso', [{ name: 'sub/data' }], {});
  assert.equal(u.succeeded, false, JSON.stringify(u.details));
  assert.equal(readFileSync(path.join(victim, 'data'), 'utf8'), 'keep\n');
  const prof = await svc.profile('c', 'iso', {});
  assert.equal(prof.succeeded, true);
  assert.deepEqual((prof.details as { files: unknown[] }).files, [], 'a symlink is not an installed file');
});

test('a handler that throws something without a string form, or returns a malformed ContentReport, gives a failed report (no crash)', async () => {
  const { dir, svc } = await service(
    { 'bad.conf': '[main]\nenabled=1\n[types]\ncontent=cgw\n[cgw]\nclass=bad:H\n' },
    {
      'bad.mjs':
        'export default (a) => ({ H: class extends a.ContentHandler { async install() { const r = new a.ContentReport().setSucceeded({}, 1); r.reboot = null; return r; } async update() { throw Object.create(null); } async uninstall() { return new a.ContentReport(); } async profile() { return new a.ProfileReport(); } } });\n',
    },
  );
  const root = path.join(dir, 'root');
  mkdirSync(root);
  svc.register('c', root);
  const i = await svc.content('install', 'c', 'cgw', [{ name: 'x' }], {});
  assert.equal(i.succeeded, false);
  assert.match(JSON.stringify(i.details), /reboot is null/);
  const u = await svc.content('update', 'c', 'cgw', [{ name: 'x' }], {});
  assert.equal(u.succeeded, false);
});

test('Linux reboot runs reboot_command after reboot_delay and the report says what was scheduled', async () => {
  const { dir, svc } = await service();
  // This host (the root /): the only kind of consumer the system handler reboots.
  svc.register('r1', '/');
  const marker = path.join(dir, 'rebooted');
  const r = await svc.reboot('r1', { reboot_command: `touch '${marker}'`, reboot_delay: '1' });
  assert.equal(r.succeeded, true);
  assert.equal(r.details.scheduled, true);
  assert.equal(r.details.command, `touch '${marker}'`);
  assert.equal(r.details.delay, 1);
  for (let i = 0; i < 100 && !existsSync(marker); i++) await sleep(100);
  assert.ok(existsSync(marker), 'the reboot command ran');
});

test('Linux reboot without reboot_command: shutdown -r +N (whole minutes, the report says when), and a refused shutdown is a failed report', async () => {
  const { dir, svc } = await service();
  svc.register('r1', '/');
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  const calls = path.join(dir, 'calls');
  const fake = (code: number) => writeFileSync(path.join(bin, 'shutdown'), `#!/bin/sh\necho "$*" >> '${calls}'\necho 'Failed to talk to init daemon' >&2\nexit ${code}\n`, { mode: 0o755 });
  const prevPath = process.env.PATH;
  process.env.PATH = `${bin}:${prevPath}`;
  try {
    fake(0);
    const t0 = Date.now();
    const ok = await svc.reboot('r1', { reboot_delay: '30' });
    assert.equal(ok.succeeded, true, JSON.stringify(ok.details));
    assert.equal(ok.details.command, 'shutdown -r +1');
    assert.equal(ok.details.delay, 60, 'shutdown counts whole minutes');
    const at = Date.parse(String(ok.details.at));
    assert.ok(at >= t0 + 60_000 && at <= Date.now() + 60_000, String(ok.details.at));
    fake(1);
    const bad = await svc.reboot('r1', { reboot_delay: '0' });
    assert.equal(bad.succeeded, false);
    assert.equal(bad.details.scheduled, false);
    assert.match(String(bad.details.message), /shutdown -r \+0 failed \(exit 1\): Failed to talk to init daemon/);
    assert.deepEqual(readFileSync(calls, 'utf8').trim().split('\n'), ['-r +1', '-r +0']);
  } finally {
    process.env.PATH = prevPath;
  }
});

test('round 2: wrong report kinds and non-JSON details are failed reports; unregister keeps a consumer whose clean failed; one binding per repository; symlinks out of the root refused; an empty reboot_delay refused', async () => {
  const { dir, engine, svc } = await service(
    {
      'acme.conf': '[main]\nenabled=1\n[types]\ncontent=cgw\nbind=test_distributor\n[cgw]\nclass=acme:Tp\n[test_distributor]\nclass=acme:B\n',
    },
    {
      'acme.mjs': `export default (a) => {
  const pick = (o, R) => (o.mode === 'wrongclass' ? new a.BindReport().setSucceeded({ wrong: true }, 1) : o.mode === 'cyclic' ? (() => { const d = {}; d.self = d; return new R().setSucceeded(d, 1); })() : o.mode === 'nonbool' ? Object.assign(new R(), { succeeded: 'nope' }) : new R().setSucceeded({}, 1));
  class Tp extends a.ContentHandler { install(c, u, o) { return pick(o, a.ContentReport); } update(c, u, o) { return pick(o, a.ContentReport); } uninstall(c, u, o) { return pick(o, a.ContentReport); } profile() { return new a.ProfileReport().setSucceeded({}); } }
  class B extends a.BindHandler { bind() { return new a.BindReport().setSucceeded({}, 1); } unbind() { return new a.BindReport().setSucceeded({}, 1); } clean() { throw new Error('clean fails'); } }
  return { Tp, B };
};
`,
    },
  );
  const root = path.join(dir, 'root');
  mkdirSync(root);
  svc.register('c1', root);
  for (const mode of ['wrongclass', 'cyclic', 'nonbool']) {
    const r = await svc.content('install', 'c1', 'cgw', [{ name: 'x' }], { mode });
    assert.equal(r.succeeded, false, mode);
    assert.match(String(r.details.message), /instead of a ContentReport|not JSON|a boolean and a count/, mode);
    JSON.stringify(r.toJSON());
  }
  // One binding per repository.
  engine.repos.set('mix', { distributors: [{ id: 't', typeId: 'test_distributor' }, { id: 'i', typeId: 'iso_distributor' }], payloads: { t: { repo_id: 'mix' }, i: { repo_id: 'mix' } }, units: [] });
  assert.equal((await svc.bind('c1', 'mix', 't')).succeeded, true);
  await assert.rejects(svc.bind('c1', 'mix', 'i'), (e: { code?: string }) => e.code === 'AGENT_ALREADY_BOUND');
  // unregister: the failing clean keeps the consumer (and its binding).
  const u = await svc.unregister('c1');
  assert.equal(u.succeeded, false);
  assert.ok(svc.list().some((c) => c.id === 'c1'), 'kept');
  assert.deepEqual(engine.consumers.bindings('c1').map((b) => b.repoId), ['mix']);
  // A target_dir through a symlink out of the root.
  const out = path.join(dir, 'outside');
  mkdirSync(out);
  mkdirSync(path.join(root, 'var', 'lib'), { recursive: true });
  spawnSync('ln', ['-s', out, path.join(root, 'var', 'lib', 'stagepush')]);
  engine.repos.set('files', { distributors: [{ id: 'iso', typeId: 'iso_distributor' }], payloads: {}, units: [] });
  const esc = await svc.content('install', 'c1', 'iso', [{ name: 'a.iso' }], { repo: 'files' });
  assert.equal(esc.succeeded, false);
  assert.match(String(esc.details.message), /leads out of the consumer root .* \(through a symlink/);
  // An empty reboot_delay (this host: a directory consumer is refused before its handler runs).
  svc.register('here', '/');
  const rb = await svc.reboot('here', { reboot_delay: '' });
  assert.equal(rb.succeeded, false);
  assert.match(String(rb.details.message), /reboot_delay: expected a number of seconds >= 0, got ""/);
  // A bad option value is a coded error naming the option, without a stack trace.
  const abc = await svc.reboot('here', { reboot_delay: 'abc' });
  assert.equal(abc.succeeded, false);
  assert.deepEqual(abc.details, { code: 'AGENT_BAD_OPTION', message: 'option reboot_delay: expected a number of seconds >= 0, got "abc"', field: 'reboot_delay' });
});
