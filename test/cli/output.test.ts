import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { createRenderer } from '../../src/cli/output.js';
import { BIN, ROOT } from '../helpers/cli.js';

const EVENTS = [
  { type: 'phase-start', phase: 'load', total: 2 },
  { type: 'phase-progress', phase: 'load', done: 1, total: 2 },
  { type: 'phase-end', phase: 'load', done: 2, total: 2 },
] as const;

async function render(stream: { isTTY?: boolean; columns?: number }): Promise<string> {
  let out = '';
  const r = await createRenderer('tty', false, { ...stream, write: (t: string) => (out += t) });
  for (const e of EVENTS) r.sink(e);
  r.stop();
  return out;
}

test('renderer: a terminal of unknown or zero width gets plain lines, not spinners', async () => {
  for (const columns of [undefined, 0]) {
    assert.equal(await render({ isTTY: true, columns }), 'load: started (2)\nload: done (2/2)\n');
  }
});

test('stagepush ls on a pseudo-terminal of width 0 finishes (script -qec, stty cols 0)', () => {
  // ora (is-interactive) turns the spinner off under CI=… or TERM=dumb, and so do we: a CI runner
  // must not change what this test sees, so it runs as an operator's terminal would.
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
  delete env.CI;
  const demo = path.join(ROOT, 'fixtures', 'staging', 'demo');
  const r = spawnSync('script', ['-qec', `stty cols 0 rows 0; ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} ls ${JSON.stringify(demo)} >/dev/null`, '/dev/null'], {
    encoding: 'utf8',
    timeout: 60_000,
    env,
  });
  assert.equal(r.error, undefined, 'script timed out: the renderer redraws forever');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /load: done \(12\)/);
  // A real width still gets the spinner (ANSI cursor control), and it ends.
  const t = spawnSync('script', ['-qec', `stty cols 80 rows 24; ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} ls ${JSON.stringify(demo)} >/dev/null`, '/dev/null'], {
    encoding: 'utf8',
    timeout: 60_000,
    env,
  });
  assert.equal(t.status, 0, t.stdout + t.stderr);
  assert.ok(t.stdout.includes("\u001b[?25l"), "ora hides the cursor");
  // With stdout on the terminal too, the spinner is in colour; under NO_COLOR (https://no-color.org)
  // the same spinner has no colour codes.
  // eslint-disable-next-line no-control-regex -- the colour codes are what it looks for
  const colour = /\u001b\[3\dm/;
  const onTerminal = (extra: NodeJS.ProcessEnv) =>
    spawnSync('script', ['-qec', `stty cols 80 rows 24; ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} ls ${JSON.stringify(demo)}`, '/dev/null'], { encoding: 'utf8', timeout: 60_000, env: { ...env, ...extra } });
  const c = onTerminal({});
  assert.equal(c.status, 0, c.stdout + c.stderr);
  assert.match(c.stdout, colour, 'in colour on a terminal');
  const n = onTerminal({ NO_COLOR: '1' });
  assert.equal(n.status, 0, n.stdout + n.stderr);
  assert.ok(n.stdout.includes("\u001b[?25l"), "still a spinner");
  assert.doesNotMatch(n.stdout, colour);
});

test('progress mode: a spinner only on an interactive terminal (not TERM=dumb, not under CI)', async () => {
  const { interactive } = await import('../../src/cli/output.js');
  assert.equal(interactive({ isTTY: true }, { TERM: 'xterm' }), true);
  assert.equal(interactive({ isTTY: false }, { TERM: 'xterm' }), false);
  assert.equal(interactive({}, { TERM: 'xterm' }), false);
  assert.equal(interactive({ isTTY: true }, { TERM: 'dumb' }), false);
  assert.equal(interactive({ isTTY: true }, { TERM: 'xterm', CI: 'true' }), false);
  assert.equal(interactive({ isTTY: true }, { TERM: 'xterm', CI: '' }), false);
});
