import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { openEngine } from '../../src/engine/index.js';
import { once } from 'node:events';
import { FIXTURES_BUILD, runCli, spawnCli, tempDir } from '../helpers/cli.js';
import { writeFiles } from '../helpers/agent.js';

const RPMS = path.join(FIXTURES_BUILD, 'rpms');

/**
 * A distributor plugin from outside the repository (a directory plugin) whose consumer payload
 * has the yum distributor's shape, pointing at a repository made by createrepo_c.
 */
const TEST_DISTRIBUTOR = `
class TestDistributor {
  metadata() { return { id: 'test_distributor', displayName: 'Test distributor', types: ['rpm'] }; }
  validateConfig() { return { valid: true }; }
  createConsumerPayload(repo, config) {
    return {
      repo_id: repo.id, repo_name: repo.displayName, server_name: null,
      relative_path: config.get('relative_url'), protocols: ['http'],
      base_urls: { http: config.get('base_url') }, gpg_keys: { rsa: config.get('gpg_key') }, ca_cert: null,
    };
  }
}
module.exports = TestDistributor;
`;

/** A third-party handler module in plain JavaScript, and one that throws. */
const HANDLERS = `
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
export default function (agent) {
  class GatewayHandler extends agent.ContentHandler {
    install(conduit, units, options) {
      const dir = path.join(conduit.root, this.config.dir);
      mkdirSync(dir, { recursive: true });
      for (const u of units) writeFileSync(path.join(dir, u.name), 'installed by ' + conduit.consumerId + '\\n');
      return new agent.ContentReport().setSucceeded({ installed: units.map((u) => u.name), option: options.flavour ?? null }, units.length);
    }
    update(conduit, units) { return new agent.ContentReport().setSucceeded({ updated: [] }, 0); }
    uninstall(conduit, units) { return new agent.ContentReport().setSucceeded({ removed: [] }, 0); }
    profile(conduit) { return new agent.ProfileReport().setSucceeded({ gateway: true }); }
  }
  class ThrowingHandler extends agent.ContentHandler {
    install() { throw new Error('image service unreachable'); }
    update() { throw new Error('no'); }
    uninstall() { throw new Error('no'); }
    profile() { throw new Error('no'); }
  }
  return { GatewayHandler, ThrowingHandler };
}
`;

function rpmQa(root: string): string[] {
  const r = spawnSync('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-qa', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l && !l.startsWith('gpg-pubkey'));
}

function createrepo(dir: string): void {
  const r = spawnSync('createrepo_c', ['-q', '--update', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

test('consumer CLI end to end: register, bind, install/update/uninstall with dnf, profile, third-party handlers, reboot, unbind, clean, unregister', async () => {
  const dir = tempDir('consumer-cli-');
  const dataDir = path.join(dir, 'data');
  const confDir = path.join(dir, 'conf.d');
  const handlersDir = path.join(dir, 'handlers');
  const logFile = path.join(dir, 'agent.log');
  writeFiles(path.join(dataDir, 'plugins', 'testdist'), { 'distributor.js': TEST_DISTRIBUTOR });
  writeFiles(handlersDir, { 'acme_handlers.mjs': HANDLERS });
  writeFiles(confDir, {
    'testbind.conf': '[main]\nenabled=1\n[types]\nbind=test_distributor\n[test_distributor]\nclass=stagepush:YumBindHandler\n',
    'acme.conf': '[main]\nenabled=true\n[types]\ncontent=cgw,ami\n[cgw]\nclass=acme_handlers:GatewayHandler\ndir=/srv/gateway\n[ami]\nclass=acme_handlers:ThrowingHandler\n',
    'rpm.conf': '[main]\nenabled=1\n[types]\ncontent=rpm\n[rpm]\nclass=stagepush:RpmHandler\nimport_key=1\nreleasever=1\n',
    'broken.conf': '[main]\nenabled=1\n[types]\ncontent=rpm2\n',
  });
  const env = {
    STAGEPUSH_DATA_DIR: dataDir,
    STAGEPUSH_AGENT_CONF_DIR: confDir,
    STAGEPUSH_AGENT_HANDLERS_DIR: handlersDir,
    STAGEPUSH_AGENT_LOG: `file:${logFile}`,
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    STAGEPUSH_CONFIG: '',
  };
  const cli = (args: string[]) => runCli(args, { env });
  const json = (args: string[], status = 0) => {
    const r = cli([...args, '--json']);
    assert.equal(r.status, status, `${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown> & { details: Record<string, unknown> };
  };

  // The repository: our yum importer and distributor, through the engine CLI.
  const key = path.join(RPMS, 'keys', 'rsa.asc');
  assert.equal(cli(['repo', 'create', 'cons', '--display-name', 'Consumer test', '--importer', 'yum_importer']).status, 0);
  const add = cli(['repo', 'distributor', 'add', 'cons', 'yum_distributor', '--id', 'yum', '--distributor-config', `gpgkey=${key}`, '--distributor-config', 'https=true']);
  assert.equal(add.status, 0, add.stderr);
  const upload = (...files: string[]) => {
    const r = cli(['content', 'upload', '--repo', 'cons', ...files.map((f) => path.join(RPMS, 'install', f))]);
    assert.equal(r.status, 0, r.stderr);
    const p = cli(['repo', 'publish', 'cons']);
    assert.equal(p.status, 0, p.stderr);
  };
  upload('hello-1.0-1.noarch.rpm', 'world-1.0-1.noarch.rpm');
  // A repository of a third-party distributor type (a directory plugin), bound by the built-in yum
  // bind handler through a descriptor in conf.d: its payload points at a createrepo_c repository.
  const pub = path.join(dir, 'pub');
  const repoDir = path.join(pub, 'other');
  mkdirSync(repoDir, { recursive: true });
  copyFileSync(path.join(RPMS, 'install', 'world-1.0-1.noarch.rpm'), path.join(repoDir, 'world-1.0-1.noarch.rpm'));
  createrepo(repoDir);
  const engine = await openEngine({ dataDir, configDir: path.join(dir, 'config', 'stagepush') });
  try {
    await engine.createRepo({ id: 'other', distributors: [{ id: 'td', typeId: 'test_distributor', config: { base_url: `file://${pub}`, relative_url: 'other', gpg_key: readFileSync(key, 'utf8') } }] });
  } finally {
    engine.close();
  }

  // agent handlers: what loaded, and the broken descriptor named (exit 3).
  const h = cli(['agent', 'handlers', '--json']);
  assert.equal(h.status, 3, h.stderr);
  const hj = JSON.parse(h.stdout) as { handlers: Array<{ capability: string; typeId: string; class: string; source: string }>; problems: Array<{ code: string; file: string }> };
  assert.deepEqual(hj.problems.map((p) => [p.code, path.basename(p.file)]), [['AGENT_DESCRIPTOR_UNKNOWN_TYPE', 'broken.conf']]);
  const cgw = hj.handlers.find((x) => x.typeId === 'cgw');
  assert.equal(cgw?.class, 'acme_handlers:GatewayHandler');
  assert.equal(cgw?.source, path.join(handlersDir, 'acme_handlers.mjs'));
  assert.equal(hj.handlers.find((x) => x.capability === 'bind' && x.typeId === 'test_distributor')?.class, 'stagepush:YumBindHandler');
  const human = cli(['agent', 'handlers']);
  assert.match(human.stdout, /content\s+cgw\s+acme_handlers:GatewayHandler\s+\S+acme_handlers\.mjs/);
  assert.match(human.stderr, /AGENT_DESCRIPTOR_UNKNOWN_TYPE.*broken\.conf/);

  const root = path.join(dir, 'root');
  mkdirSync(root);
  assert.equal(cli(['consumer', 'register', 'web1']).status, 2, 'the root / needs --yes');
  const reg = json(['consumer', 'register', 'web1', '--root', root]);
  assert.equal(reg.root, root);
  assert.equal(cli(['consumer', 'register', 'web1', '--root', root]).status, 3, 'registered twice');

  const bind = json(['consumer', 'bind', 'web1', 'cons']);
  assert.equal(bind.succeeded, true);
  const repoFile = path.join(root, 'etc/yum.repos.d/stagepush.repo');
  const published = path.join(dataDir, 'published');
  assert.match(readFileSync(repoFile, 'utf8'), new RegExp(`^\\[cons\\]\\nname=Consumer test\\nbaseurl=file://${published}/https/cons/ file://${published}/http/cons/\\nenabled=1\\ngpgcheck=1\\ngpgkey=file://${root}/etc/yum.repos.d/stagepush-keys/cons/cons.gpg\\n`, 'm'));
  const other = json(['consumer', 'bind', 'web1', 'other']);
  assert.equal(other.succeeded, true);
  assert.match(readFileSync(repoFile, 'utf8'), new RegExp(`^\\[other\\]\\nname=other\\nbaseurl=file://${pub}/other/\\n`, 'm'));
  assert.equal(json(['consumer', 'unbind', 'web1', 'other']).succeeded, true);
  assert.doesNotMatch(readFileSync(repoFile, 'utf8'), /\[other\]/);
  assert.deepEqual((json(['consumer', 'show', 'web1']).bindings as Array<{ repoId: string }>).map((b) => b.repoId), ['cons']);

  const inst = json(['consumer', 'install', 'web1', '--type', 'rpm', 'hello']);
  assert.deepEqual(inst.details.installed, ['hello-1.0-1.noarch']);
  assert.deepEqual(rpmQa(root), ['hello-1.0-1.noarch']);
  const prof = json(['consumer', 'profile', 'web1', '--type', 'rpm']);
  assert.deepEqual((prof.details.packages as Array<{ nevra: string }>).map((p) => p.nevra), ['hello-1.0-1.noarch']);

  // A failed report: non-zero exit, report printed.
  const unsigned = cli(['consumer', 'install', 'web1', '--type', 'rpm', 'world-1.0-1.noarch']);
  assert.equal(unsigned.status, 6);
  assert.match(unsigned.stdout, /install rpm on web1: FAILED/);
  // A unit that is a dnf option is refused before anything runs (it turned the signature check off).
  for (const [op, opt] of [['install', '--nogpgcheck'], ['install', '--setopt=gpgcheck=0'], ['update', '--nogpgcheck'], ['uninstall', '-x']]) {
    const r = cli(['consumer', op!, 'web1', '--type', 'rpm', '--', opt!, 'world']);
    assert.equal(r.status, 2, `${op} ${opt}: ${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`AGENT_BAD_UNIT.*rpm unit "${opt}": expected name\\[-\\[epoch:\\]version-release\\[\\.arch\\]\\]`));
    assert.deepEqual(rpmQa(root), ['hello-1.0-1.noarch'], `${op} ${opt}`);
  }

  upload('hello-1.1-1.noarch.rpm');
  const upd = json(['consumer', 'update', 'web1', '--type', 'rpm', 'hello']);
  assert.deepEqual(upd.details.installed, ['hello-1.1-1.noarch']);
  assert.deepEqual(rpmQa(root), ['hello-1.1-1.noarch']);
  const shown = json(['consumer', 'show', 'web1']) as unknown as { profiles: { rpm: { packages: Array<{ nevra: string }> } } };
  assert.deepEqual(shown.profiles.rpm.packages.map((p) => p.nevra), ['hello-1.1-1.noarch'], 'the stored profile follows the change');
  const rm = json(['consumer', 'uninstall', 'web1', '--type', 'rpm', 'hello']);
  assert.deepEqual(rm.details.erased, ['hello-1.1-1.noarch']);
  assert.deepEqual(rpmQa(root), []);

  // Third-party handlers: one works, one throws.
  const gw = json(['consumer', 'install', 'web1', '--type', 'cgw', 'defs.yaml', '--option', 'flavour=mint']);
  assert.deepEqual(gw.details, { installed: ['defs.yaml'], option: 'mint' });
  assert.equal(readFileSync(path.join(root, 'srv/gateway/defs.yaml'), 'utf8'), 'installed by web1\n');
  const boom = json(['consumer', 'install', 'web1', '--type', 'ami', 'img'], 6);
  assert.equal(boom.succeeded, false);
  assert.equal(boom.details.message, 'image service unreachable');
  assert.match(String(boom.details.trace), /Error: image service unreachable\n\s+at ThrowingHandler\.install/);
  assert.match(readFileSync(logFile, 'utf8'), /ERROR acme_handlers:ThrowingHandler install .*: exception: image service unreachable/);
  const none = json(['consumer', 'install', 'web1', '--type', 'vhd', 'x'], 6);
  assert.equal(none.details.code, 'AGENT_NO_HANDLER');

  // web1 is a directory tree standing for another host: it is never rebooted (see the reboot test).
  const rb = json(['consumer', 'reboot', 'web1'], 6);
  assert.equal(rb.details.code, 'AGENT_REBOOT_NOT_THIS_HOST');

  const ub = json(['consumer', 'unbind', 'web1', 'cons']);
  assert.equal(ub.details.sectionRemoved, true);
  assert.equal(existsSync(repoFile), false);
  assert.equal(cli(['consumer', 'unbind', 'web1', 'cons']).status, 3, 'not bound any more');
  json(['consumer', 'bind', 'web1', 'cons', '--distributor', 'yum']);
  assert.ok(existsSync(repoFile));
  const cl = json(['consumer', 'clean', 'web1']);
  assert.equal(cl.succeeded, true);
  assert.equal(existsSync(repoFile), false);
  assert.deepEqual(json(['consumer', 'show', 'web1']).bindings, []);

  json(['consumer', 'bind', 'web1', 'cons']);
  const unreg = json(['consumer', 'unregister', 'web1']);
  assert.equal(unreg.succeeded, true);
  assert.equal(existsSync(repoFile), false, 'unregister cleaned the bind configuration');
  assert.deepEqual(json(['consumer', 'list']), []);
});

/**
 * The handlers/acme.mjs written in `work` as the content handler of type ami (acme:Img), and a
 * consumer web1 registered at `root`: the environment that runs the CLI with them.
 */
function amiHandlerConsumer(work: string, root: string, logFile: string): NodeJS.ProcessEnv {
  writeFiles(path.join(work, 'conf.d'), { 'acme.conf': '[main]\nenabled=1\n[types]\ncontent=ami\n[ami]\nclass=acme:Img\n' });
  const env = { STAGEPUSH_DATA_DIR: path.join(work, 'data'), STAGEPUSH_AGENT_CONF_DIR: path.join(work, 'conf.d'), STAGEPUSH_AGENT_HANDLERS_DIR: path.join(work, 'handlers'), STAGEPUSH_AGENT_LOG: `file:${logFile}`, XDG_CONFIG_HOME: path.join(work, 'config'), STAGEPUSH_CONFIG: '' };
  assert.equal(runCli(['consumer', 'register', 'web1', '--root', root], { env }).status, 0);
  return env;
}

test('a handler method letting an error escape (a rejection never awaited, a throwing timer callback) gives a failed report, exit 6, logged; the CLI does not crash', () => {
  const work = tempDir('consumer-escape-');
  const logFile = path.join(work, 'agent.log');
  const root = path.join(work, 'root');
  mkdirSync(root);
  writeFiles(path.join(work, 'handlers'), {
    'acme.mjs': `
export default function (agent) {
  class Img extends agent.ContentHandler {
    async install(conduit, units) {
      Promise.reject(new Error('upload to image service failed'));
      await new Promise((r) => setTimeout(r, 0));
      return new agent.ContentReport().setSucceeded({ installed: units.map((u) => u.name) }, units.length);
    }
    async update(conduit, units) {
      setTimeout(() => { throw new TypeError('timer callback exploded'); }, 0);
      await new Promise((r) => setTimeout(r, 0));
      return new agent.ContentReport().setSucceeded({ updated: units.map((u) => u.name) }, units.length);
    }
    uninstall(conduit, units) {
      // The callback that would settle the promise throws first: it is never settled.
      if (units[0].name === 'throws') return new Promise((resolve) => setTimeout(() => { throw new Error('image service gone'); }, 0));
      return new Promise(() => {});
    }
    profile() { return new agent.ProfileReport(); }
  }
  return { Img };
}
`,
  });
  const env = amiHandlerConsumer(work, root, logFile);
  for (const [op, message, event] of [
    ['install', 'upload to image service failed', 'unhandled promise rejection'],
    ['update', 'timer callback exploded', 'uncaught exception'],
  ]) {
    const r = runCli(['consumer', op!, 'web1', '--type', 'ami', 'img1', '--json'], { env });
    assert.equal(r.status, 6, `${op}: ${r.stdout}\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /at Img\./, `${op}: no raw stack trace`);
    const report = JSON.parse(r.stdout) as { succeeded: boolean; details: { message: string; trace: string } };
    assert.equal(report.succeeded, false, op);
    assert.equal(report.details.message, message, op);
    assert.match(report.details.trace, new RegExp(`Error: ${message}\\n\\s+at `), op);
    assert.match(readFileSync(logFile, 'utf8'), new RegExp(`ERROR acme:Img ${op} \\(content ami, consumer web1\\): ${event}: ${message}`), op);
  }
  // A method whose promise is never settled: once nothing is left to wait for, a failed report
  // (the process ended with exit 0 and printed nothing).
  for (const unit of ['throws', 'waits']) {
    const r = runCli(['consumer', 'uninstall', 'web1', '--type', 'ami', unit, '--json'], { env });
    assert.equal(r.status, 6, `${unit}: ${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as { succeeded: boolean; details: { message: string; escaped?: unknown } };
    assert.equal(report.details.message, 'acme:Img.uninstall never finished: its promise was never settled, and nothing was left for it to wait for', unit);
    assert.deepEqual(report.details.escaped, unit === 'throws' ? [{ event: 'uncaught exception', message: 'image service gone' }] : undefined, unit);
  }
});

test('an error a handler lets escape after its method returned (a timer it left throws, a promise it left rejects) is logged naming the handler and consumer, an error line, exit 6: no crash with exit 1 and a raw stack', () => {
  const work = tempDir('consumer-late-');
  const logFile = path.join(work, 'agent.log');
  const root = path.join(work, 'root');
  mkdirSync(root);
  // The timer waits until the agent log says the call ended (its report given), so the error it
  // lets escape comes after the call whatever the machine's speed.
  writeFiles(path.join(work, 'handlers'), {
    'acme.mjs': `
import { readFileSync } from 'node:fs';
export default function (agent) {
  const afterCall = (op, fail) => {
    const logFile = process.env.STAGEPUSH_AGENT_LOG.slice('file:'.length);
    const t = setInterval(() => {
      if (!readFileSync(logFile, 'utf8').includes('acme:Img ' + op + ' (content ami, consumer web1): succeeded')) return;
      clearInterval(t);
      fail();
    }, 5);
  };
  class Img extends agent.ContentHandler {
    install(conduit, units) {
      afterCall('install', () => { throw new TypeError('image cache flush failed'); });
      return new agent.ContentReport().setSucceeded({ installed: units.map((u) => u.name) }, units.length);
    }
    update(conduit, units) {
      afterCall('update', () => { Promise.reject(new Error('image service gone')); });
      return new agent.ContentReport().setSucceeded({ updated: units.map((u) => u.name) }, units.length);
    }
    uninstall() { return new agent.ContentReport(); }
    profile() { return new agent.ProfileReport(); }
  }
  return { Img };
}
`,
  });
  const env = amiHandlerConsumer(work, root, logFile);
  for (const [op, message, event] of [
    ['install', 'image cache flush failed', 'uncaught exception'],
    ['update', 'image service gone', 'unhandled promise rejection'],
  ]) {
    const r = runCli(['consumer', op!, 'web1', '--type', 'ami', 'img1', '--json'], { env });
    assert.equal(r.status, 6, `${op}: ${r.stdout}\n${r.stderr}`);
    assert.equal((JSON.parse(r.stdout) as { succeeded: boolean }).succeeded, true, `${op}: the report was given before`);
    assert.doesNotMatch(r.stderr, /at Timeout|internal error/, `${op}: no raw stack trace`);
    assert.match(r.stderr, new RegExp(`^error \\[AGENT_HANDLER_LATE_ERROR\\]: acme:Img ${op} \\(content ami, consumer web1\\): ${event} after the call had ended: ${message} \\(its trace is in the agent log\\)$`, 'm'), op);
    assert.match(readFileSync(logFile, 'utf8'), new RegExp(`ERROR acme:Img ${op} \\(content ami, consumer web1\\): ${event} after the call had ended \\(its report was already given\\): ${message}\\n\\w*Error: ${message}\\n\\s+at `), op);
  }
});

test("agent handlers refuses a descriptor with a bad setting of a built-in handler (exit 3), naming the file, section and key", () => {
  const work = tempDir('consumer-settings-');
  const confDir = path.join(work, 'conf.d');
  writeFiles(confDir, {
    'rpm.conf': '[main]\nenabled=1\n[types]\ncontent=rpm\n[rpm]\nclass=stagepush:RpmHandler\nimport_key=yes please\n',
    'linux.conf': '[main]\nenabled=1\n[types]\nsystem=Linux\n[Linux]\nclass=stagepush:LinuxHandler\nreboot_delay=abc\n',
  });
  const env = { STAGEPUSH_DATA_DIR: path.join(work, 'data'), STAGEPUSH_AGENT_CONF_DIR: confDir, STAGEPUSH_AGENT_LOG: `file:${path.join(work, 'agent.log')}`, XDG_CONFIG_HOME: path.join(work, 'config'), STAGEPUSH_CONFIG: '' };
  const r = runCli(['agent', 'handlers'], { env });
  assert.equal(r.status, 3, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`error \\[AGENT_HANDLER_BAD_SETTING\\]: ${path.join(confDir, 'linux.conf')}: \\[Linux\\] reboot_delay: expected a number of seconds >= 0, got "abc"`));
  assert.match(r.stderr, new RegExp(`error \\[AGENT_HANDLER_BAD_SETTING\\]: ${path.join(confDir, 'rpm.conf')}: \\[rpm\\] import_key: expected true\\|yes\\|1 or false\\|no\\|0, got "yes please"`));
  assert.doesNotMatch(r.stdout, /RpmHandler|LinuxHandler/, 'neither loaded');
});

test('a repository not published yet can be bound (the payload points where the engine publishes); agent.log file:REL is relative to the config file', () => {
  const work = tempDir('consumer-unpublished-');
  const dataDir = path.join(work, 'data');
  const cfgDir = path.join(work, 'cfg');
  const elsewhere = path.join(work, 'elsewhere');
  const root = path.join(work, 'root');
  for (const d of [cfgDir, elsewhere, root]) mkdirSync(d, { recursive: true });
  writeFiles(cfgDir, { 'config.yaml': `data_dir: ${dataDir}\nagent: {log: "file:agent.log", conf_d: conf.d}\n` });
  const cli = (args: string[]) => runCli(['--config', path.join(cfgDir, 'config.yaml'), ...args], { cwd: elsewhere, env: { STAGEPUSH_AGENT_LOG: '', STAGEPUSH_AGENT_CONF_DIR: '' } });
  for (const args of [
    ['repo', 'create', 'r1', '--importer', 'yum_importer'],
    ['repo', 'distributor', 'add', 'r1', 'yum_distributor', '--id', 'yum', '--distributor-config', 'relative_url=content/r1'],
    ['consumer', 'register', 'c1', '--root', root],
  ]) {
    const r = cli(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  const b = cli(['consumer', 'bind', 'c1', 'r1']);
  assert.equal(b.status, 0, b.stderr);
  const repoFile = readFileSync(path.join(root, 'etc/yum.repos.d/stagepush.repo'), 'utf8');
  assert.match(repoFile, new RegExp(`^baseurl=file://${path.join(dataDir, 'published', 'http', 'content', 'r1')}/$`, 'm'));
  assert.ok(existsSync(path.join(cfgDir, 'agent.log')), 'the agent log is beside the config file');
  assert.equal(existsSync(path.join(elsewhere, 'agent.log')), false);
});

test('consumer reboot: only a consumer whose root is / (this host) is rebooted; a directory consumer installing a package needing one reports it required, not scheduled', () => {
  const work = tempDir('consumer-reboot-');
  const dataDir = path.join(work, 'data');
  const root = path.join(work, 'root');
  const bin = path.join(work, 'bin');
  const calls = path.join(work, 'shutdown-calls');
  for (const d of [root, bin]) mkdirSync(d, { recursive: true });
  // A fake shutdown first on PATH: what would reboot this host only records its arguments.
  writeFileSync(path.join(bin, 'shutdown'), `#!/bin/sh\necho "$*" >> '${calls}'\n`, { mode: 0o755 });
  const env = { STAGEPUSH_DATA_DIR: dataDir, STAGEPUSH_AGENT_CONF_DIR: path.join(work, 'conf.d'), STAGEPUSH_AGENT_LOG: `file:${path.join(work, 'agent.log')}`, XDG_CONFIG_HOME: path.join(work, 'config'), STAGEPUSH_CONFIG: '', PATH: `${bin}:${process.env.PATH}` };
  const cli = (args: string[]) => runCli(args, { env });
  const json = (args: string[], status: number) => {
    const r = cli([...args, '--json']);
    assert.equal(r.status, status, `${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown> & { details: Record<string, unknown>; reboot: { required: boolean; permitted: boolean; scheduled: boolean; details: { details: Record<string, unknown> } } };
  };
  const key = path.join(RPMS, 'keys', 'rsa.asc');
  for (const args of [
    ['repo', 'create', 'fw', '--importer', 'yum_importer'],
    ['repo', 'distributor', 'add', 'fw', 'yum_distributor', '--id', 'yum', '--distributor-config', `gpgkey=${key}`],
    ['content', 'upload', '--repo', 'fw', path.join(RPMS, 'install', 'hello-1.0-1.noarch.rpm')],
    ['repo', 'publish', 'fw'],
    ['consumer', 'register', 'tree', '--root', root],
    ['consumer', 'bind', 'tree', 'fw'],
  ]) {
    const r = cli(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  // hello stands for linux-firmware (a package in reboot_packages): installed, the reboot required
  // and permitted but not scheduled, saying why.
  const inst = json(['consumer', 'install', 'tree', '--type', 'rpm', 'hello', '--option', 'releasever=1', '--option', 'reboot_packages=linux-firmware,hello'], 0);
  assert.deepEqual(inst.details.installed, ['hello-1.0-1.noarch']);
  assert.deepEqual([inst.reboot.required, inst.reboot.permitted, inst.reboot.scheduled], [true, true, false]);
  assert.equal(inst.reboot.details.details.code, 'AGENT_REBOOT_NOT_THIS_HOST');
  assert.deepEqual((inst.reboot.details as unknown as { packages: string[] }).packages, ['hello'], 'which packages needed the reboot is kept');
  const human = cli(['consumer', 'reboot', 'tree']);
  assert.equal(human.status, 6);
  assert.match(human.stdout, /reboot tree: FAILED[\s\S]*directory tree standing for another host, not this host: it is not rebooted/);
  assert.equal(existsSync(calls), false, 'shutdown never ran for the directory consumer');
  // This host: the system handler runs (here the fake shutdown).
  assert.equal(cli(['consumer', 'register', 'here', '--root', '/', '--yes']).status, 0);
  const rb = json(['consumer', 'reboot', 'here', '--option', 'reboot_delay=60'], 0);
  assert.equal(rb.details.command, 'shutdown -r +1');
  assert.equal(readFileSync(calls, 'utf8'), '-r +1\n');
});

test('concurrent consumer bind on one consumer: every binding has its section in the repo file (the consumer is locked across processes)', async () => {
  const work = tempDir('consumer-parallel-');
  const dataDir = path.join(work, 'data');
  const confDir = path.join(work, 'conf.d');
  const root = path.join(work, 'root');
  mkdirSync(root);
  // A distributor whose consumer payload has many keys: the yum bind handler writes their files
  // between reading the repo file and writing it back, so concurrent binds overlap there.
  writeFiles(path.join(dataDir, 'plugins', 'manykeys'), {
    'distributor.js': `
class ManyKeys {
  metadata() { return { id: 'test_distributor', displayName: 'Many keys', types: ['rpm'] }; }
  validateConfig() { return { valid: true }; }
  createConsumerPayload(repo) {
    const gpg_keys = {};
    for (let i = 0; i < 300; i++) gpg_keys['k' + i] = 'key ' + i;
    return { repo_id: repo.id, relative_path: repo.id, protocols: ['http'], base_urls: { http: 'http://example.com' }, gpg_keys, ca_cert: null };
  }
}
module.exports = ManyKeys;
`,
  });
  writeFiles(confDir, { 'testbind.conf': '[main]\nenabled=1\n[types]\nbind=test_distributor\n[test_distributor]\nclass=stagepush:YumBindHandler\n' });
  const env = { STAGEPUSH_DATA_DIR: dataDir, STAGEPUSH_AGENT_CONF_DIR: confDir, STAGEPUSH_AGENT_LOG: `file:${path.join(work, 'agent.log')}`, XDG_CONFIG_HOME: path.join(work, 'config'), STAGEPUSH_CONFIG: '' };
  const ids = Array.from({ length: 8 }, (_, i) => `par${i}`);
  const engine = await openEngine({ dataDir, configDir: path.join(work, 'config', 'stagepush') });
  try {
    for (const id of ids) await engine.createRepo({ id, distributors: [{ id: 'td', typeId: 'test_distributor', config: {} }] });
  } finally {
    engine.close();
  }
  assert.equal(runCli(['consumer', 'register', 'c', '--root', root], { env }).status, 0);
  const runs = ids.map((id) => {
    const child = spawnCli(['consumer', 'bind', 'c', id], { env });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    return once(child, 'exit').then(([code]) => ({ id, code: code as number | null, err }));
  });
  for (const r of await Promise.all(runs)) assert.equal(r.code, 0, `bind ${r.id}: ${r.err}`);
  const sections = [...readFileSync(path.join(root, 'etc/yum.repos.d/stagepush.repo'), 'utf8').matchAll(/^\[([^\]]+)\]$/gm)].map((m) => m[1]).sort();
  assert.deepEqual(sections, ids);
  const shown = JSON.parse(runCli(['consumer', 'show', 'c', '--json'], { env }).stdout) as { bindings: Array<{ repoId: string }> };
  assert.deepEqual(shown.bindings.map((b) => b.repoId).sort(), ids);
});
