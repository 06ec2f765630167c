import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { BIN, tempDir } from '../helpers/cli.js';
import { cannotRunAsNobody } from '../helpers/nobody.js';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function allCommands(c: Command, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const sub of c.commands) {
    const p = [...prefix, sub.name()];
    out.push(p);
    out.push(...allCommands(sub, p));
  }
  return out;
}

test('every command answers --help with exit 0 and a usage line', () => {
  const paths = allCommands(buildProgram());
  for (const p of [[], ...paths]) {
    const r = spawnSync(process.execPath, [BIN, ...p, '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${p.join(' ')} --help: ${r.stderr}`);
    assert.match(r.stdout, /Usage: stagepush/, `${p.join(' ')} --help prints usage`);
  }
});

test('--version prints the package version and loads neither better-sqlite3 nor piscina', () => {
  const dir = tempDir();
  const trace = path.join(dir, 'trace.txt');
  const hooks = `import { appendFileSync } from 'node:fs';
export async function resolve(spec, ctx, next) { const r = await next(spec, ctx); appendFileSync(${JSON.stringify(trace)}, r.url + '\\n'); return r; }`;
  const hooksFile = path.join(dir, 'hooks.mjs');
  writeFileSync(hooksFile, hooks);
  const registerFile = path.join(dir, 'register.mjs');
  writeFileSync(registerFile, `import { register } from 'node:module'; register(${JSON.stringify('file://' + hooksFile)});`);
  const r = spawnSync(process.execPath, ['--import', 'file://' + registerFile, BIN, '--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/);
  const loaded = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
  assert.ok(loaded.some((u) => u.includes('commander')), 'the trace saw the CLI load');
  for (const heavy of ['better-sqlite3', 'piscina', 'fast-xml-parser', 'undici', 'ajv']) {
    assert.ok(!loaded.some((u) => u.includes(`/node_modules/${heavy}/`)), `--version loaded ${heavy}`);
  }
});

test('unknown command exits with the usage status 2', () => {
  const r = spawnSync(process.execPath, [BIN, 'no-such-command'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
});

test('an empty --data-dir, --config, --dest, --exclude-dest or --log-file (a cron line\'s unset "$VAR") is a usage error, before anything changes', () => {
  const dir = tempDir();
  const area = path.join(dir, 'area');
  const data = path.join(dir, 'data');
  for (const args of [['--data-dir', ''], ['--config', ''], ['--dest', ''], ['--exclude-dest', ' , '], ['--log-file', '']]) {
    const global = args[0] === '--data-dir' || args[0] === '--config';
    const argv = global ? [...args, 'push', area] : ['--data-dir', data, 'push', ...args, area];
    const r = spawnSync(process.execPath, [BIN, ...argv], { encoding: 'utf8', env: { ...process.env, STAGEPUSH_CONFIG: '', STAGEPUSH_DATA_DIR: data } });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${args[0]}: an empty`), args.join(' '));
  }
  assert.equal(spawnSync('ls', [data]).status === 0 && readdirSync(data).length > 0, false, 'nothing was made');
});

test('a --note without "=" is refused naming --note: repo create says nothing of removing notes (only update removes them), consumer register does not speak of --option', () => {
  const data = path.join(tempDir(), 'data');
  const env = { ...process.env, STAGEPUSH_CONFIG: '', STAGEPUSH_DATA_DIR: data };
  const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env });
  const create = run(['repo', 'create', 'x', '--note', 'foo']);
  assert.equal(create.status, 2, create.stderr);
  assert.match(create.stderr, /CLI_BAD_NOTE.*--note "foo": expected key=value$/m);
  // An empty value on create (nothing to remove) is refused too, not dropped.
  const empty = run(['repo', 'create', 'x', '--note', 'owner=']);
  assert.equal(empty.status, 2, empty.stderr);
  assert.match(empty.stderr, /CLI_BAD_NOTE.*--note "owner=": an empty value \(a new repository has no note to remove\)/);
  assert.equal(run(['repo', 'list', '--json']).stdout.trim(), '[]');
  const update = run(['repo', 'update', 'x', '--note', 'foo']);
  assert.match(update.stderr, /an empty value removes the note|REPO_NOT_FOUND|not found/);
  const reg = run(['consumer', 'register', 'w', '--root', tempDir(), '--note', 'foo']);
  assert.equal(reg.status, 2, reg.stderr);
  assert.match(reg.stderr, /--note "foo": expected key=value/);
  assert.doesNotMatch(reg.stderr, /--option/);
});

test('content upload of a FIFO or of a file this user cannot read is invalid input naming it (exit 3), not "no such file" nor a plugin failure', (t) => {
  const dir = tempDir();
  const data = path.join(dir, 'data');
  const env = { ...process.env, STAGEPUSH_CONFIG: '', STAGEPUSH_DATA_DIR: data };
  const run = (args: string[], asNobody = false) =>
    asNobody
      ? spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'env', `STAGEPUSH_DATA_DIR=${data}`, 'STAGEPUSH_CONFIG=', 'HOME=/tmp', process.execPath, BIN, ...args], { encoding: 'utf8' })
      : spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env });
  assert.equal(run(['repo', 'create', 'f', '--importer', 'iso_importer']).status, 0);
  const fifo = path.join(dir, 'pipe.iso');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const f = run(['content', 'upload', '--repo', 'f', fifo]);
  assert.equal(f.status, 3, f.stderr);
  assert.match(f.stderr, /ENGINE_NOT_A_FILE.*pipe\.iso is a FIFO/);
  const why = cannotRunAsNobody();
  if (why) {
    t.diagnostic(`the unreadable-file case is not run: ${why}`);
    return;
  }
  const secret = path.join(dir, 'secret.iso');
  writeFileSync(secret, 'x\n', { mode: 0o600 });
  spawnSync('chmod', ['-R', 'a+rwX', data]);
  spawnSync('chmod', ['a+rx', dir]);
  const u = run(['content', 'upload', '--repo', 'f', secret], true);
  assert.equal(u.status, 3, u.stderr);
  assert.match(u.stderr, /ENGINE_FILE_UNREADABLE.*secret\.iso/);
});

test('consumer list at a data dir without an engine says so and makes none (as repo list); the other consumer commands refuse it; register makes it', () => {
  const data = path.join(tempDir(), 'typo');
  const r = spawnSync(process.execPath, [BIN, '--data-dir', data, 'consumer', 'list'], { encoding: 'utf8', env: { ...process.env, STAGEPUSH_CONFIG: '' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /no consumers \(no engine in the data dir yet\)/);
  const j = spawnSync(process.execPath, [BIN, '--data-dir', data, 'consumer', 'list', '--json'], { encoding: 'utf8', env: { ...process.env, STAGEPUSH_CONFIG: '' } });
  assert.deepEqual(JSON.parse(j.stdout), []);
  assert.equal(spawnSync('test', ['-e', data]).status, 1, 'nothing was made');
  // The other consumer commands refuse a data dir without an engine (exit 3), making none; register makes it.
  const show = spawnSync(process.execPath, [BIN, '--data-dir', data, 'consumer', 'show', 'w'], { encoding: 'utf8', env: { ...process.env, STAGEPUSH_CONFIG: '' } });
  assert.equal(show.status, 3, show.stderr);
  assert.match(show.stderr, /ENGINE_NOT_FOUND/);
  assert.equal(spawnSync('test', ['-e', data]).status, 1, 'nothing was made');
  const reg = spawnSync(process.execPath, [BIN, '--data-dir', data, 'consumer', 'register', 'w', '--root', tempDir()], { encoding: 'utf8', env: { ...process.env, STAGEPUSH_CONFIG: '' } });
  assert.equal(reg.status, 0, reg.stderr);
});
