import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { runCli, tempDir } from '../helpers/cli.js';

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
