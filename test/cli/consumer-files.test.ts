import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { runCli, tempDir } from '../helpers/cli.js';
import { NOBODY_GID, NOBODY_UID, cannotRunAsNobody, runCliAsNobody, traversable } from '../helpers/nobody.js';
import { cannotMountTmpfs, mountTmpfs } from '../helpers/tmpfs.js';

/** A data dir and agent dirs under a fresh temp dir; `cli` runs a command there and checks its exit status. */
function agentCli(prefix: string) {
  const dir = tempDir(prefix);
  const env = {
    STAGEPUSH_DATA_DIR: path.join(dir, 'data'),
    STAGEPUSH_AGENT_CONF_DIR: path.join(dir, 'conf.d'),
    STAGEPUSH_AGENT_HANDLERS_DIR: path.join(dir, 'handlers'),
    STAGEPUSH_AGENT_LOG: `file:${path.join(dir, 'agent.log')}`,
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    STAGEPUSH_CONFIG: '',
  };
  const cli = (args: string[], status = 0) => {
    const r = runCli(args, { env });
    assert.equal(r.status, status, `${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
    return r;
  };
  return { dir, cli };
}

test('file content through the engine CLI: iso repository, bind, install verifying sha256, update, profile, uninstall', () => {
  const { dir, cli } = agentCli('consumer-files-');
  const json = (args: string[], status = 0) => JSON.parse(cli([...args, '--json'], status).stdout) as Record<string, unknown> & { details: Record<string, unknown> };
  const files = path.join(dir, 'files');
  mkdirSync(files);
  writeFileSync(path.join(files, 'disk.iso'), 'iso image v1\n');
  writeFileSync(path.join(files, 'notes.txt'), 'release notes\n');
  cli(['repo', 'create', 'isos', '--importer', 'iso_importer']);
  cli(['repo', 'distributor', 'add', 'isos', 'iso_distributor', '--id', 'iso']);
  cli(['repo', 'distributor', 'add', 'isos', 'export_distributor', '--id', 'exp']);
  cli(['content', 'upload', '--repo', 'isos', path.join(files, 'disk.iso'), path.join(files, 'notes.txt')]);
  const root = path.join(dir, 'root');
  mkdirSync(root);
  cli(['consumer', 'register', 'box', '--root', root]);
  // Two distributors, one with a bind handler: that one is chosen.
  const b = json(['consumer', 'bind', 'box', 'isos']);
  assert.equal(b.succeeded, true);
  assert.ok(existsSync(path.join(root, 'etc/stagepush/file-repos/isos.json')));
  const i = json(['consumer', 'install', 'box', '--type', 'iso', 'disk.iso', 'notes.txt']);
  assert.deepEqual(i.details.installed, ['disk.iso', 'notes.txt']);
  const target = path.join(root, 'var/lib/stagepush/files');
  assert.equal(readFileSync(path.join(target, 'disk.iso'), 'utf8'), 'iso image v1\n');
  const missing = json(['consumer', 'install', 'box', '--type', 'iso', 'nope.iso'], 6);
  assert.match(String(missing.details.message), /not found in the bound repositories: nope\.iso/);

  // A new disk.iso replaces the old one in the repository; update brings it over.
  writeFileSync(path.join(files, 'disk.iso'), 'iso image v2\n');
  cli(['content', 'upload', '--repo', 'isos', path.join(files, 'disk.iso')]);
  const u = json(['consumer', 'update', 'box', '--type', 'iso']);
  assert.deepEqual(u.details.installed, ['disk.iso']);
  assert.deepEqual(u.details.unchanged, ['notes.txt']);
  assert.equal(readFileSync(path.join(target, 'disk.iso'), 'utf8'), 'iso image v2\n');
  const p = json(['consumer', 'profile', 'box', '--type', 'iso']);
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  assert.deepEqual(p.details.files, [
    { name: 'disk.iso', sha256: sha('iso image v2\n'), size: 13 },
    { name: 'notes.txt', sha256: sha('release notes\n'), size: 14 },
  ]);
  const un = json(['consumer', 'uninstall', 'box', '--type', 'iso', 'notes.txt']);
  assert.equal(un.numChanges, 1);
  assert.equal(existsSync(path.join(target, 'notes.txt')), false);
  json(['consumer', 'unbind', 'box', 'isos']);
  assert.equal(existsSync(path.join(root, 'etc/stagepush/file-repos/isos.json')), false);
});

test('bind with several bindable distributors asks for --distributor, listing them', () => {
  const dir = tempDir('consumer-files-');
  const env = { STAGEPUSH_DATA_DIR: path.join(dir, 'data'), STAGEPUSH_AGENT_CONF_DIR: path.join(dir, 'conf.d'), STAGEPUSH_AGENT_LOG: 'stderr', XDG_CONFIG_HOME: path.join(dir, 'config'), STAGEPUSH_CONFIG: '' };
  const cli = (args: string[]) => runCli(args, { env });
  assert.equal(cli(['repo', 'create', 'two', '--importer', 'iso_importer']).status, 0);
  assert.equal(cli(['repo', 'distributor', 'add', 'two', 'iso_distributor', '--id', 'a', '--distributor-config', 'relative_url=two-a']).status, 0);
  assert.equal(cli(['repo', 'distributor', 'add', 'two', 'iso_distributor', '--id', 'b', '--distributor-config', 'relative_url=two-b']).status, 0);
  mkdirSync(path.join(dir, 'root'));
  assert.equal(cli(['consumer', 'register', 'c', '--root', path.join(dir, 'root')]).status, 0);
  const r = cli(['consumer', 'bind', 'c', 'two']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /AGENT_BIND_AMBIGUOUS.*a \(iso_distributor\), b \(iso_distributor\)/);
  assert.match(r.stderr, /--distributor/);
  const nodist = cli(['consumer', 'bind', 'c', 'two', '--distributor', 'zz']);
  assert.equal(nodist.status, 3);
  assert.match(nodist.stderr, /AGENT_NO_DISTRIBUTOR/);
  assert.equal(cli(['consumer', 'bind', 'c', 'two', '--distributor', 'b']).status, 0);
});

test('a repository (or distributor) bound by consumers is not deleted without --force; a binding left to a deleted repository holds nothing (the unit is missing, no crash)', () => {
  const { dir, cli } = agentCli('consumer-bound-');
  writeFileSync(path.join(dir, 'a.iso'), 'a\n');
  for (const r of ['isos', 'old']) {
    cli(['repo', 'create', r, '--importer', 'iso_importer']);
    cli(['repo', 'distributor', 'add', r, 'iso_distributor', '--id', 'iso', '--distributor-config', `relative_url=${r}`]);
  }
  cli(['content', 'upload', '--repo', 'isos', path.join(dir, 'a.iso')]);
  const root = path.join(dir, 'root');
  mkdirSync(root);
  cli(['consumer', 'register', 'web1', '--root', root]);
  cli(['consumer', 'bind', 'web1', 'isos']);
  cli(['consumer', 'bind', 'web1', 'old']);
  const refused = cli(['repo', 'delete', 'old'], 3);
  assert.match(refused.stderr, /ENGINE_REPO_BOUND.*consumer\(s\) web1/);
  assert.match(refused.stderr, /consumer unbind web1 old/);
  assert.match(cli(['repo', 'distributor', 'remove', 'old', 'iso'], 3).stderr, /ENGINE_REPO_BOUND/);
  cli(['repo', 'show', 'old']);
  cli(['repo', 'delete', 'old', '--force']);
  // The binding left to it holds nothing: a unit only it could hold is missing, the others install.
  const r = JSON.parse(cli(['consumer', 'install', 'web1', '--type', 'iso', 'a.iso', 'b.iso', '--json'], 6).stdout) as { details: { installed: string[]; missing?: string[] } };
  assert.deepEqual(r.details.installed, ['a.iso']);
  assert.doesNotMatch(JSON.stringify(r), /requireRepo|at .*\.js/);
});

test('consumer register: a root that is a symlink to / is the host itself and needs --yes, as / does', () => {
  const { dir, cli } = agentCli('consumer-root-');
  const host = path.join(dir, 'hostroot');
  symlinkSync('/', host);
  const r = cli(['consumer', 'register', 'h', '--root', host], 2);
  assert.match(r.stderr, /AGENT_ROOT_NEEDS_YES.*which is \//);
});

/** An iso repository holding disk.iso and a consumer "box" bound to it; what an install of disk.iso writes. */
function boundBox(prefix: string) {
  const a = agentCli(prefix);
  writeFileSync(path.join(a.dir, 'disk.iso'), 'iso image\n');
  a.cli(['repo', 'create', 'isos', '--importer', 'iso_importer']);
  a.cli(['repo', 'distributor', 'add', 'isos', 'iso_distributor', '--id', 'iso']);
  a.cli(['content', 'upload', '--repo', 'isos', path.join(a.dir, 'disk.iso')]);
  const root = path.join(a.dir, 'root');
  mkdirSync(root);
  a.cli(['consumer', 'register', 'box', '--root', root]);
  a.cli(['consumer', 'bind', 'box', 'isos']);
  return { ...a, root, installed: path.join(root, 'var/lib/stagepush/files/disk.iso') };
}

test('an agent log target that cannot be written (flag, environment or config) refuses the command up front: AGENT_LOG_UNWRITABLE naming the file, exit 3, nothing installed', () => {
  const { dir, cli, installed } = boundBox('consumer-log-');
  const notDir = path.join(dir, 'a-file');
  writeFileSync(notDir, '');
  const config = path.join(dir, 'stagepush.yaml');
  writeFileSync(config, 'agent: {log: "file:a-file/agent.log"}\n');
  const cases: Array<[string[], NodeJS.ProcessEnv, string, string, RegExp]> = [
    [['--agent-log', `file:${dir}`], {}, '--agent-log', dir, /is a directory$/],
    [[], { STAGEPUSH_AGENT_LOG: `file:${dir}` }, 'STAGEPUSH_AGENT_LOG', dir, /is a directory$/],
    [[], { STAGEPUSH_AGENT_LOG: '', STAGEPUSH_CONFIG: config }, 'agent.log in the config file', path.join(notDir, 'agent.log'), new RegExp(`${notDir} is not a directory$`)],
  ];
  for (const [flags, env, where, file, why] of cases) {
    for (const op of [['install', 'box', '--type', 'iso', 'disk.iso'], ['profile', 'box', '--type', 'iso']]) {
      const r = runCli(['consumer', ...op, ...flags], { env: { STAGEPUSH_DATA_DIR: path.join(dir, 'data'), STAGEPUSH_AGENT_CONF_DIR: path.join(dir, 'conf.d'), XDG_CONFIG_HOME: path.join(dir, 'config'), STAGEPUSH_CONFIG: '', ...env } });
      assert.equal(r.status, 3, `${where} ${op[0]}: ${r.stderr}`);
      const first = r.stderr.split('\n')[0]!;
      assert.equal(first.replace(why, ''), `error [AGENT_LOG_UNWRITABLE]: ${where}: the agent log file ${file} cannot be written: `);
      assert.match(first, why);
      assert.doesNotMatch(r.stderr, /internal error/);
      assert.equal(existsSync(installed), false, 'nothing installed');
    }
  }
  // The same install with a good log target installs.
  cli(['consumer', 'install', 'box', '--type', 'iso', 'disk.iso']);
  assert.equal(readFileSync(installed, 'utf8'), 'iso image\n');
});

test('an agent log file the user may not write (as nobody): AGENT_LOG_UNWRITABLE, permission denied, exit 3', (t) => {
  const skip = cannotRunAsNobody();
  if (skip) return t.skip(skip);
  const { dir, installed } = boundBox('consumer-log-nobody-');
  // Everything the command needs is nobody's, but the log's directory (root's, 0700).
  traversable(dir);
  spawnSync('chown', ['-R', `${NOBODY_UID}:${NOBODY_GID}`, path.join(dir, 'data'), path.join(dir, 'root')]);
  const logDir = path.join(dir, 'root-only');
  mkdirSync(logDir, { mode: 0o700 });
  for (const spec of [`file:${path.join(logDir, 'agent.log')}`, `file:${path.join(logDir, 'sub', 'agent.log')}`]) {
    const r = runCliAsNobody(['consumer', 'install', 'box', '--type', 'iso', 'disk.iso'], { STAGEPUSH_DATA_DIR: path.join(dir, 'data'), STAGEPUSH_AGENT_CONF_DIR: path.join(dir, 'conf.d'), STAGEPUSH_AGENT_LOG: spec, XDG_CONFIG_HOME: path.join(dir, 'config'), STAGEPUSH_CONFIG: '' });
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`^error \\[AGENT_LOG_UNWRITABLE\\]: STAGEPUSH_AGENT_LOG: the agent log file ${spec.slice(5)} cannot be written: permission denied\\n`));
    assert.equal(existsSync(installed), false);
  }
});

test('an agent log file that fills its disk midway: the install goes on, its messages go to stderr after a warning naming the file', (t) => {
  const skip = cannotMountTmpfs();
  if (skip) return t.skip(skip);
  const { dir, installed } = boundBox('consumer-log-full-');
  const fs1 = mountTmpfs('64k');
  try {
    // An empty log file (writable when the command starts), then no block left for its first line.
    const log = path.join(fs1.dir, 'agent.log');
    writeFileSync(log, '');
    fs1.fill();
    const r = runCli(['consumer', 'install', 'box', '--type', 'iso', 'disk.iso'], { env: { STAGEPUSH_DATA_DIR: path.join(dir, 'data'), STAGEPUSH_AGENT_CONF_DIR: path.join(dir, 'conf.d'), STAGEPUSH_AGENT_LOG: `file:${log}`, XDG_CONFIG_HOME: path.join(dir, 'config'), STAGEPUSH_CONFIG: '' } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(installed, 'utf8'), 'iso image\n');
    const warnings = r.stderr.split('\n').filter((l) => / WARN cannot write the agent log file /.test(l));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0]!, new RegExp(`cannot write the agent log file ${log} \\(no space left on the device\\): agent log messages go to stderr$`));
    assert.match(r.stderr, /INFO .*install .*succeeded/);
    assert.equal(readFileSync(log, 'utf8'), '');
  } finally {
    fs1.unmount();
  }
});
