import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadHandlers } from '../../src/agent/loader.js';
import { Agent, escapedErrors, type LateError } from '../../src/agent/agent.js';
import { ConsumerService } from '../../src/agent/consumers.js';
import { ContentReport, HandlerReport } from '../../src/agent/reports.js';
import { tempDir } from '../helpers/cli.js';
import { CONTENT_TYPES, DISTRIBUTOR_TYPES, memoryEngine, memoryLog, writeFiles } from '../helpers/agent.js';
import { checkLogTarget, createLogger, parseLogTarget } from '../../src/agent/log.js';

const HANDLERS = `
export default function (agent) {
  class Boom extends agent.ContentHandler {
    install() { throw new Error('kaboom: install exploded'); }
    async update() { throw new TypeError('async kaboom'); }
    uninstall() { return { succeeded: true }; }
    profile() { return new agent.ProfileReport().setSucceeded({ items: ['a'] }); }
  }
  class Kernelish extends agent.ContentHandler {
    install(conduit, units, options) {
      conduit.progress.report({ step: 'install', units: units.length });
      const r = new agent.ContentReport().setSucceeded({ installed: units.map((u) => u.name), consumer: conduit.consumerId, root: conduit.root }, units.length);
      if (units.some((u) => u.name === 'kernel')) r.reboot = { required: true, permitted: this.config.permit_reboot === '1', scheduled: false };
      return r;
    }
    update() { return new agent.ContentReport(); }
    uninstall() { return new agent.ContentReport(); }
    profile() { return new agent.ProfileReport().setSucceeded({ n: 1 }); }
  }
  class FakeLinux extends agent.SystemHandler {
    reboot(conduit, options) { return new agent.RebootReport().setSucceeded({ scheduled: true, delay: options.reboot_delay ?? 'default' }); }
  }
  return { Boom, Kernelish, FakeLinux };
}
`;

async function setup() {
  const dir = tempDir('agent-dispatch-');
  const conf = path.join(dir, 'conf.d');
  const handlers = path.join(dir, 'handlers');
  const root = path.join(dir, 'root');
  mkdirSync(root, { recursive: true });
  writeFiles(handlers, { 'test_handlers.mjs': HANDLERS });
  writeFiles(conf, {
    'test.conf': '[main]\nenabled=1\n[types]\ncontent=cgw,ami\nsystem=TestOS\n[cgw]\nclass=test_handlers:Boom\n[ami]\nclass=test_handlers:Kernelish\npermit_reboot=1\n[TestOS]\nclass=test_handlers:FakeLinux\n',
  });
  const registry = await loadHandlers({ confDir: conf, handlersDir: handlers, builtinConfDir: null, contentTypes: CONTENT_TYPES, distributorTypes: DISTRIBUTOR_TYPES });
  assert.deepEqual(registry.problems, []);
  const log = memoryLog();
  const agent = new Agent(registry, log, { osType: 'TestOS' });
  const engine = memoryEngine();
  const events: unknown[] = [];
  const svc = new ConsumerService(engine, agent, (e) => events.push(e));
  svc.register('c1', root);
  return { svc, log, events, root, engine };
}

test('an exception escaping a handler becomes a failed report with message and trace, and is logged', async () => {
  const { svc, log } = await setup();
  const r = await svc.content('install', 'c1', 'cgw', [{ name: 'x' }], {});
  assert.ok(r instanceof ContentReport);
  assert.equal(r.succeeded, false);
  assert.equal(r.details.message, 'kaboom: install exploded');
  assert.match(String(r.details.trace), /Error: kaboom: install exploded\n\s+at Boom\.install/);
  assert.ok(log.lines.some((l) => l.startsWith('error ') && l.includes('kaboom: install exploded')), log.lines.join('\n'));
  const u = await svc.content('update', 'c1', 'cgw', [], {});
  assert.equal(u.succeeded, false);
  assert.equal(u.details.message, 'async kaboom');
  assert.match(String(u.details.trace), /TypeError: async kaboom/);
});

/** Handlers letting an error escape without throwing it: a rejection never awaited, a throwing timer. */
const ESCAPING = `
export default function (agent) {
  class Escapes extends agent.ContentHandler {
    async install(conduit, units) {
      Promise.reject(new Error('upload to image service failed'));
      await new Promise((r) => setTimeout(r, 0));
      return new agent.ContentReport().setSucceeded({ installed: units.map((u) => u.name) }, units.length);
    }
    update(conduit, units) {
      // Rejected in the method's last step: reported unhandled only after it returned.
      Promise.reject(new Error('late rejection'));
      return new agent.ContentReport().setSucceeded({ updated: units.map((u) => u.name) }, units.length);
    }
    async uninstall() {
      // Timers of one delay run in the order they were set: the throwing one first.
      setTimeout(() => { throw new TypeError('timer callback exploded'); }, 0);
      await new Promise((r) => setTimeout(r, 0));
      return new agent.ContentReport().setFailed({ message: 'nothing removed' });
    }
    profile() { return new agent.ProfileReport(); }
  }
  return { Escapes };
}
`;

/**
 * Run fn with no process listeners for unhandled rejections and uncaught exceptions but the
 * agent's (as in the CLI: the test runner's own would take the errors and fail the test), and
 * return how many of each were left installed when it ended.
 */
async function withBareProcess<T>(fn: () => Promise<T>): Promise<{ value: T; left: number[] }> {
  const events = ['unhandledRejection', 'uncaughtException'] as const;
  const saved = events.map((e) => process.rawListeners(e) as Array<(...a: unknown[]) => void>);
  for (const e of events) process.removeAllListeners(e);
  try {
    const value = await fn();
    return { value, left: events.map((e) => process.listenerCount(e)) };
  } finally {
    events.forEach((e, i) => {
      process.removeAllListeners(e);
      for (const l of saved[i]!) process.on(e, l);
    });
  }
}

test('an error escaping a handler method unawaited (a rejected promise, a throwing timer) is logged and fails its report; the process lives on and the listeners are removed', async () => {
  const dir = tempDir('agent-escape-');
  writeFiles(path.join(dir, 'handlers'), { 'esc.mjs': ESCAPING });
  writeFiles(path.join(dir, 'conf.d'), { 'esc.conf': '[main]\nenabled=1\n[types]\ncontent=ami\n[ami]\nclass=esc:Escapes\n' });
  mkdirSync(path.join(dir, 'root'));
  const registry = await loadHandlers({ confDir: path.join(dir, 'conf.d'), handlersDir: path.join(dir, 'handlers'), builtinConfDir: null, contentTypes: CONTENT_TYPES, distributorTypes: DISTRIBUTOR_TYPES });
  assert.deepEqual(registry.problems, []);
  const log = memoryLog();
  const svc = new ConsumerService(memoryEngine(), new Agent(registry, log, { osType: 'TestOS' }), () => {});
  svc.register('c1', path.join(dir, 'root'));

  const { value: reports, left } = await withBareProcess(async () => [
    await svc.content('install', 'c1', 'ami', [{ name: 'img1' }], {}),
    await svc.content('update', 'c1', 'ami', [{ name: 'img2' }], {}),
    await svc.content('uninstall', 'c1', 'ami', [{ name: 'img3' }], {}),
  ]);
  assert.deepEqual(left, [0, 0], 'no listener left once the calls ended');
  const [install, update, uninstall] = reports;
  assert.equal(install!.succeeded, false);
  assert.equal(install!.details.message, 'upload to image service failed');
  assert.match(String(install!.details.trace), /Error: upload to image service failed\n\s+at Escapes\.install/);
  assert.deepEqual(install!.details.installed, ['img1'], "the method's own details are kept");
  assert.deepEqual(install!.details.escaped, [{ event: 'unhandled promise rejection', message: 'upload to image service failed' }]);
  assert.equal(update!.succeeded, false);
  assert.equal(update!.details.message, 'late rejection');
  assert.equal(uninstall!.succeeded, false);
  assert.equal(uninstall!.details.message, 'nothing removed', 'a report the method failed keeps its message');
  assert.deepEqual(uninstall!.details.escaped, [{ event: 'uncaught exception', message: 'timer callback exploded' }]);
  for (const [op, message] of [['install', 'unhandled promise rejection: upload to image service failed'], ['update', 'unhandled promise rejection: late rejection'], ['uninstall', 'uncaught exception: timer callback exploded']]) {
    assert.ok(log.lines.some((l) => l.startsWith(`error esc:Escapes ${op} (content ami, consumer c1): ${message}\n`)), `${op}: ${log.lines.join('\n')}`);
  }
});

/**
 * Handler calls running at once, each letting an error escape (or not) at a point the others are
 * still running: every step waits for what it needs from the others, never for a delay.
 */
const CONCURRENT = `
const signals = new Map();
const signal = (name) => { if (!signals.has(name)) { let r; signals.set(name, { p: new Promise((x) => (r = x)), r }); } return signals.get(name); };
const tick = () => new Promise((r) => setTimeout(r, 0));
export default function (agent) {
  class Conc extends agent.ContentHandler {
    async install(conduit, units) {
      const who = conduit.consumerId;
      switch (units[0].name) {
        case 'reject':
          Promise.reject(new Error('rejected by ' + who));
          await tick();
          signal('reject').r();
          break;
        case 'timer':
          setTimeout(() => { throw new TypeError('timer of ' + who + ' threw'); }, 0);
          await tick();
          signal('timer').r();
          break;
        case 'make':
          // A promise made here, rejected (and left unhandled) by the settle call: the promise's.
          new Promise((_, reject) => signal('made').r(reject));
          await signal('settled').p;
          await tick();
          break;
        case 'settle': {
          const reject = await signal('made').p;
          reject(new Error('made by the make call, rejected by ' + who));
          await tick();
          signal('settled').r();
          break;
        }
        default:
          // Running while every other call lets its error escape.
          await Promise.all(['reject', 'timer', 'settled'].map((n) => signal(n).p));
          await tick();
      }
      return new agent.ContentReport().setSucceeded({ consumer: who }, 1);
    }
    update() { return new agent.ContentReport(); }
    uninstall() { return new agent.ContentReport(); }
    profile() { return new agent.ProfileReport(); }
  }
  return { Conc };
}
`;

test('handler calls running at once in one process: an escaped error fails only the call in whose async context it arose (an unhandled rejection: the context the promise was made in); one with no call context fails none and is logged', async () => {
  const dir = tempDir('agent-escape-concurrent-');
  writeFiles(path.join(dir, 'handlers'), { 'conc.mjs': CONCURRENT });
  writeFiles(path.join(dir, 'conf.d'), { 'conc.conf': '[main]\nenabled=1\n[types]\ncontent=ami\n[ami]\nclass=conc:Conc\n' });
  const registry = await loadHandlers({ confDir: path.join(dir, 'conf.d'), handlersDir: path.join(dir, 'handlers'), builtinConfDir: null, contentTypes: CONTENT_TYPES, distributorTypes: DISTRIBUTOR_TYPES });
  assert.deepEqual(registry.problems, []);
  const log = memoryLog();
  const svc = new ConsumerService(memoryEngine(), new Agent(registry, log, { osType: 'TestOS' }), () => {});
  const modes = ['quiet', 'reject', 'timer', 'make', 'settle'];
  for (const m of modes) {
    mkdirSync(path.join(dir, m));
    svc.register(m, path.join(dir, m));
  }
  const { value: reports, left } = await withBareProcess(async () => {
    const running = Promise.all(modes.map((m) => svc.content('install', m, 'ami', [{ name: m }], {})));
    // Made here, in no handler call's context, while the calls run.
    Promise.reject(new Error('rejected outside every call'));
    return running;
  });
  assert.deepEqual(left, [0, 0], 'no listener left once the calls ended');
  const by = Object.fromEntries(modes.map((m, i) => [m, reports[i]!]));
  const summary = (m: string) => [by[m]!.succeeded, by[m]!.details.message ?? null, by[m]!.details.escaped ?? null];
  assert.deepEqual(summary('quiet'), [true, null, null]);
  assert.deepEqual(summary('reject'), [false, 'rejected by reject', [{ event: 'unhandled promise rejection', message: 'rejected by reject' }]]);
  assert.deepEqual(summary('timer'), [false, 'timer of timer threw', [{ event: 'uncaught exception', message: 'timer of timer threw' }]]);
  assert.deepEqual(summary('make'), [false, 'made by the make call, rejected by settle', [{ event: 'unhandled promise rejection', message: 'made by the make call, rejected by settle' }]]);
  assert.deepEqual(summary('settle'), [true, null, null]);
  for (const m of modes) assert.equal(by[m]!.details.consumer, m, "the method's own details are kept");
  const errors = log.lines.filter((l) => l.startsWith('error '));
  // Not late (five calls were running), and none of theirs.
  assert.ok(errors.some((l) => l.startsWith('error unhandled promise rejection while 5 handler calls were running, in none of their contexts (no call is failed for it): rejected outside every call\n')), log.lines.join('\n'));
  assert.equal(errors.length, 4, errors.join('\n---\n'));
});

/**
 * Errors escaping from callbacks set up outside the call's async context: an abort listener on
 * conduit.signal (run by whoever aborts, here the test), a promise made when the module loaded.
 */
const OUT_OF_CONTEXT = `
let rejectLoaded;
// Made when the module loads, in no handler call's context.
const loaded = new Promise((_, reject) => (rejectLoaded = reject));
export default function (agent) {
  class Out extends agent.ContentHandler {
    async install(conduit, units) {
      if (units[0].name === 'loaded') {
        rejectLoaded(new Error('the connection made at load failed'));
        await new Promise((r) => setTimeout(r, 0));
      } else {
        conduit.signal.addEventListener('abort', () => { throw new Error('cleanup on abort failed'); });
        const aborted = new Promise((r) => conduit.signal.addEventListener('abort', r));
        conduit.progress.report({ step: 'waiting for the abort' });
        await aborted;
        await new Promise((r) => setTimeout(r, 0));
      }
      return new agent.ContentReport().setSucceeded({ installed: units.map((u) => u.name) }, units.length);
    }
    update() { return new agent.ContentReport(); }
    uninstall() { return new agent.ContentReport(); }
    profile() { return new agent.ProfileReport(); }
  }
  return { Out };
}
`;

test('an error escaping in no call\'s context (an abort listener on the signal, a promise made at module load) while exactly one call runs fails that call; with none running it is late', async () => {
  const dir = tempDir('agent-escape-one-');
  writeFiles(path.join(dir, 'handlers'), { 'out.mjs': OUT_OF_CONTEXT });
  writeFiles(path.join(dir, 'conf.d'), { 'out.conf': '[main]\nenabled=1\n[types]\ncontent=ami\n[ami]\nclass=out:Out\n' });
  mkdirSync(path.join(dir, 'root'));
  const registry = await loadHandlers({ confDir: path.join(dir, 'conf.d'), handlersDir: path.join(dir, 'handlers'), builtinConfDir: null, contentTypes: CONTENT_TYPES, distributorTypes: DISTRIBUTOR_TYPES });
  assert.deepEqual(registry.problems, []);
  const log = memoryLog();
  const abort = new AbortController();
  let waiting!: () => void;
  const isWaiting = new Promise<void>((r) => (waiting = r));
  const svc = new ConsumerService(memoryEngine(), new Agent(registry, log, { osType: 'TestOS' }), (e) => e.type === 'progress' && waiting(), abort.signal);
  svc.register('c1', path.join(dir, 'root'));
  const lates: LateError[] = [];
  const { value, left } = await withBareProcess(async () => {
    const release = escapedErrors.holdForLate(log, (l) => lates.push(l));
    try {
      const loaded = await svc.content('install', 'c1', 'ami', [{ name: 'loaded' }], {});
      const running = svc.content('install', 'c1', 'ami', [{ name: 'img' }], {});
      // Aborted here (the test's context, not the call's), as a Ctrl-C handler aborts it.
      await isWaiting;
      abort.abort();
      const aborted = await running;
      // None running now: late, and said so.
      Promise.reject(new Error('rejected with no call running'));
      await new Promise((r) => setTimeout(r, 0));
      return { loaded, aborted };
    } finally {
      release();
    }
  });
  assert.deepEqual(left, [0, 0], 'no listener left');
  assert.equal(value.loaded.succeeded, false, JSON.stringify(value.loaded.details));
  assert.equal(value.loaded.details.message, 'the connection made at load failed');
  assert.deepEqual(value.loaded.details.escaped, [{ event: 'unhandled promise rejection', message: 'the connection made at load failed' }]);
  assert.equal(value.aborted.succeeded, false, JSON.stringify(value.aborted.details));
  assert.equal(value.aborted.details.message, 'cleanup on abort failed');
  assert.deepEqual(value.aborted.details.escaped, [{ event: 'uncaught exception', message: 'cleanup on abort failed' }]);
  assert.deepEqual(value.aborted.details.installed, ['img'], "the method's own details are kept");
  assert.deepEqual(
    lates.map((l: LateError & { running?: number }) => [l.event, l.error.message, l.call ?? null, l.running ?? null]),
    [['unhandled promise rejection', 'rejected with no call running', null, null]],
    'only the error with no call running is late',
  );
  const errors = log.lines.filter((l) => l.startsWith('error '));
  assert.ok(errors.some((l) => l.startsWith("error out:Out install (content ami, consumer c1): uncaught exception (in no call's context; the only call running): cleanup on abort failed\n")), errors.join('\n---\n'));
  assert.ok(errors.some((l) => l.startsWith('error unhandled promise rejection that no handler call can be named for (no call is failed for it): rejected with no call running\n')), errors.join('\n---\n'));
  assert.equal(errors.length, 3, errors.join('\n---\n'));
});

test('a handler returning something that is not a report gives a failed report', async () => {
  const { svc } = await setup();
  const r = await svc.content('uninstall', 'c1', 'cgw', [{ name: 'x' }], {});
  assert.equal(r.succeeded, false);
  assert.match(String(r.details.message), /Boom\.uninstall returned object instead of a ContentReport/);
});

test('a request with no handler for its type is a report that says so', async () => {
  const { svc } = await setup();
  const r = await svc.content('install', 'c1', 'vhd', [{ name: 'x' }], {});
  assert.equal(r.succeeded, false);
  assert.equal(r.details.code, 'AGENT_NO_HANDLER');
  assert.match(String(r.details.message), /no content handler for type "vhd"/);
  const p = await svc.profile('c1', 'rpm');
  assert.equal(p.succeeded, false);
});

test('dispatch by type, conduit with consumer and progress; a change needing a reboot schedules it through the system handler', async () => {
  const { svc, events, root, engine } = await setup();
  const r = await svc.content('install', 'c1', 'ami', [{ name: 'img1' }], {});
  assert.equal(r.succeeded, true);
  assert.equal(r.numChanges, 1);
  assert.deepEqual(r.details, { installed: ['img1'], consumer: 'c1', root });
  assert.equal(r.reboot.scheduled, false);
  assert.ok(events.some((e) => JSON.stringify(e).includes('"step":"install"')));
  assert.deepEqual(engine.consumers.getProfile('c1', 'ami'), { n: 1 }, 'profile stored after a change');
  // This host (root /): the system handler schedules the reboot.
  svc.register('here', '/');
  const k = await svc.content('install', 'here', 'ami', [{ name: 'kernel' }], { reboot_delay: '5' });
  assert.equal(k.reboot.required, true);
  assert.equal(k.reboot.scheduled, true);
  assert.deepEqual((k.reboot.details as { details: unknown }).details, { scheduled: true, delay: '5' });
  // --reboot asks for one after any change.
  const e = await svc.content('install', 'here', 'ami', [{ name: 'img2' }], { reboot: true });
  assert.equal(e.reboot.scheduled, true);
});

test('a consumer whose root is a directory tree is never rebooted: required, not scheduled, the system handler not called', async () => {
  const { svc, log, root } = await setup();
  for (const options of [{}, { reboot: true }]) {
    const k = await svc.content('install', 'c1', 'ami', [{ name: 'kernel' }], options);
    assert.equal(k.succeeded, true);
    assert.deepEqual([k.reboot.required, k.reboot.permitted, k.reboot.scheduled], [true, true, false]);
    const d = (k.reboot.details as { details: { code: string; message: string } }).details;
    assert.equal(d.code, 'AGENT_REBOOT_NOT_THIS_HOST');
    assert.match(d.message, new RegExp(`consumer c1 has the root ${root}, a directory tree standing for another host, not this host: it is not rebooted`));
  }
  const r = await svc.reboot('c1', { reboot_delay: '5' });
  assert.equal(r.succeeded, false);
  assert.equal(r.details.scheduled, false);
  assert.equal(r.details.code, 'AGENT_REBOOT_NOT_THIS_HOST');
  assert.ok(!log.lines.some((l) => l.includes('FakeLinux')), log.lines.join('\n'));
  // A root that is a symlink to / is this host.
  const link = path.join(path.dirname(root), 'slash');
  symlinkSync('/', link);
  svc.register('linked', link);
  const l = await svc.reboot('linked', {});
  assert.equal(l.succeeded, true);
  assert.ok(log.lines.some((x) => x.includes('FakeLinux reboot')), log.lines.join('\n'));
});

test('reports: defaults, setSucceeded, setFailed', () => {
  const r = new HandlerReport();
  assert.equal(r.succeeded, true);
  assert.deepEqual(r.details, {});
  assert.equal(r.numChanges, 0);
  r.setSucceeded({ a: 1 }, 3);
  assert.deepEqual(r.toJSON(), { report: 'HandlerReport', succeeded: true, numChanges: 3, details: { a: 1 } });
  r.setFailed({ message: 'no' });
  assert.equal(r.succeeded, false);
  assert.deepEqual(r.details, { a: 1, message: 'no' });
});

test('agent log to a file', () => {
  const dir = tempDir('agent-log-');
  const file = path.join(dir, 'sub', 'agent.log');
  const log = createLogger(parseLogTarget(`file:${file}`));
  log.info('hello log');
  log.debug('hidden');
  const text = readFileSync(file, 'utf8');
  assert.match(text, /stagepush-agent\[\d+\] INFO hello log\n$/);
  assert.throws(() => parseLogTarget('journal'), /expected syslog, stderr or file:PATH/);
});

const escRe = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('an agent log file that cannot be written is refused up front, naming it and the setting; nothing is made', () => {
  const dir = tempDir('agent-log-');
  const file = path.join(dir, 'file');
  writeFileSync(file, '');
  const refused = (spec: string, why: RegExp) =>
    assert.throws(
      () => checkLogTarget(parseLogTarget(spec), 'STAGEPUSH_AGENT_LOG'),
      (e: any) => e.code === 'AGENT_LOG_UNWRITABLE' && e.kind === 'invalid' && e.file === path.resolve(spec.slice(5)) && new RegExp(`^STAGEPUSH_AGENT_LOG: the agent log file ${escRe(spec.slice(5))} cannot be written: `).test(e.message) && why.test(e.message),
    );
  refused(`file:${dir}`, /is a directory$/);
  refused(`file:${path.join(file, 'agent.log')}`, new RegExp(`: ${escRe(file)} is not a directory$`));
  refused(`file:${path.join(file, 'sub', 'agent.log')}`, new RegExp(`: ${escRe(file)} is not a directory$`));
  // Writable: an existing file, or one to be made below the nearest existing directory (not made now).
  checkLogTarget(parseLogTarget(`file:${file}`));
  checkLogTarget(parseLogTarget(`file:${path.join(dir, 'new', 'sub', 'agent.log')}`));
  assert.equal(existsSync(path.join(dir, 'new')), false);
  checkLogTarget(parseLogTarget('stderr'));
  checkLogTarget(parseLogTarget('syslog'));
});

test('an agent log file write that fails midway never throws: that message and the next go to stderr, said once', () => {
  const dir = tempDir('agent-log-');
  const file = path.join(dir, 'agent.log');
  const log = createLogger(parseLogTarget(`file:${file}`));
  log.info('first');
  // The file taken away and a directory in its place: appending fails with EISDIR.
  rmSync(file);
  mkdirSync(file);
  const lines: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    log.info('second');
    log.error('third');
  } finally {
    process.stderr.write = orig;
  }
  assert.equal(lines.length, 3, lines.join(''));
  assert.match(lines[0]!, new RegExp(`WARN cannot write the agent log file ${escRe(file)} \\(is a directory\\): agent log messages go to stderr`));
  assert.match(lines[1]!, /INFO second\n$/);
  assert.match(lines[2]!, /ERROR third\n$/);
});

test('agent log to syslog goes through logger(1) to the syslog socket', async () => {
  const dir = tempDir('agent-syslog-');
  const sock = path.join(dir, 'log.sock');
  const out = path.join(dir, 'received.txt');
  // A tiny syslog receiver: one datagram, written to a file that appears whole (renamed into place:
  // the poll below must not read it half written).
  const { spawn } = await import('node:child_process');
  const py = `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nopen(sys.argv[2]+'.ready','w').close()\nd=s.recv(65536)\nopen(sys.argv[2]+'.part','wb').write(d)\nimport os\nos.rename(sys.argv[2]+'.part',sys.argv[2])\n`;
  const rx = spawn('python3', ['-c', py, sock, out], { stdio: 'ignore' });
  const { existsSync } = await import('node:fs');
  const { setTimeout: sleep } = await import('node:timers/promises');
  for (let i = 0; i < 100 && !existsSync(out + '.ready'); i++) await sleep(50);
  const log = createLogger({ kind: 'syslog', socket: sock });
  log.warn('reboot scheduled for tomorrow');
  for (let i = 0; i < 100 && !existsSync(out); i++) await sleep(50);
  rx.kill();
  const got = readFileSync(out, 'utf8');
  // <12> = facility user (1) * 8 + warning (4)
  assert.match(got, /^<12>.*stagepush-agent.*reboot scheduled for tomorrow/);
});

test('agent log to syslog without a syslog socket falls back to stderr, saying so once', () => {
  const dir = tempDir('agent-syslog-');
  const lines: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    const log = createLogger({ kind: 'syslog', socket: path.join(dir, 'missing.sock') });
    log.info('first');
    log.info('second');
  } finally {
    process.stderr.write = orig;
  }
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /WARN syslog is not available/);
  assert.match(lines[1]!, /INFO first/);
  assert.match(lines[2]!, /INFO second/);
});
