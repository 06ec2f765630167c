import type { EventSink, ProgressEvent } from '../events.js';
import type { GlobalOptions } from './globals.js';

/** Write machine-readable output. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Write human output unless --quiet. */
export function say(g: Pick<GlobalOptions, 'quiet'>, text: string): void {
  if (!g.quiet) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

/** Print a simple table (columns padded) to stdout. */
export function table(rows: string[][], header?: string[]): string {
  const all = header ? [header, ...rows] : rows;
  const widths: number[] = [];
  for (const r of all) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export type ProgressMode = 'tty' | 'plain' | 'ndjson' | 'none';

export function progressModeFor(g: GlobalOptions, requested?: string): ProgressMode {
  if (requested === 'ndjson' || requested === 'plain' || requested === 'none' || requested === 'tty') return requested;
  if (g.quiet) return 'none';
  if (g.json) return 'none';
  return interactive(process.stderr, process.env) ? 'tty' : 'plain';
}

/**
 * A spinner only where a person watches: a TTY that is not `TERM=dumb` and not a CI runner (`CI`
 * set), the rule ora itself applies; anywhere else, plain lines rather than ora's reduced output.
 */
export function interactive(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return Boolean(stream.isTTY) && env.TERM !== 'dumb' && !('CI' in env);
}

function describe(e: ProgressEvent): string | null {
  switch (e.type) {
    case 'phase-start':
      return `${e.phase}${e.repo ? ` ${e.repo}` : ''}: started${e.total !== undefined ? ` (${e.total})` : ''}${e.label ? ` ${e.label}` : ''}`;
    case 'phase-progress':
      return null;
    case 'phase-end':
      return `${e.phase}${e.repo ? ` ${e.repo}` : ''}: ${e.ok === false ? 'failed' : 'done'}${e.done !== undefined ? ` (${e.done}${e.total !== undefined ? `/${e.total}` : ''})` : ''}${e.label ? ` ${e.label}` : ''}`;
    case 'task':
      return `task ${e.taskId} ${e.kind}${e.repo ? ` ${e.repo}` : ''}: ${e.state}`;
    case 'progress':
      return null;
    case 'waiting':
      return `waiting for ${e.resource}${e.owner ? ` (held by ${e.owner})` : ''}${e.label ? `: ${e.label}` : ''}`;
    case 'warning':
      return `warning${e.code ? ` [${e.code}]` : ''}: ${e.file ? `${e.file}: ` : ''}${e.message}`;
    case 'info':
      return e.message;
  }
}

/** Where progress goes: stderr, or a stand-in in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * Waiting for a lock is always said on stderr (unless -q), even with --json: where no progress is
 * rendered (`none`), the sink says it, then passes every event on.
 */
export function sayingWaits(sink: EventSink, mode: ProgressMode, quiet: boolean): EventSink {
  if (mode !== 'none' || quiet) return sink;
  return (ev) => {
    if (ev.type === 'waiting') process.stderr.write(`waiting for ${ev.resource}${ev.owner ? ` (held by ${ev.owner})` : ''}${ev.label ? `: ${ev.label}` : ''}\n`);
    sink(ev);
  };
}

/**
 * An event sink rendering to stderr: ora spinner on a TTY (loaded lazily), plain lines off a TTY,
 * NDJSON with --progress ndjson, nothing with -q/--json (warnings still shown unless -q).
 * A terminal whose width is unknown or 0 (some ptys, `stty cols 0`) gets plain lines: ora divides
 * by the width to count the lines to clear and would redraw forever.
 */
export async function createRenderer(mode: ProgressMode, quiet = false, stream: ProgressStream = process.stderr): Promise<{ sink: EventSink; stop(): void }> {
  if (mode === 'tty' && !((stream.columns ?? 0) > 0)) mode = 'plain';
  if (mode === 'ndjson') {
    return { sink: (e) => stream.write(JSON.stringify({ ts: new Date().toISOString(), ...e }) + '\n'), stop() {} };
  }
  if (mode === 'none') {
    return {
      sink: (e) => {
        if (e.type === 'warning' && !quiet) stream.write(describe(e) + '\n');
      },
      stop() {},
    };
  }
  if (mode === 'plain') {
    return {
      sink: (e) => {
        const line = describe(e);
        if (line) stream.write(line + '\n');
      },
      stop() {},
    };
  }
  const { default: ora } = await import('ora');
  // NO_COLOR (https://no-color.org): the spinner and its end symbols without colour codes.
  const noColor = Boolean(process.env.NO_COLOR);
  const spinner = ora({ stream: stream as NodeJS.WritableStream, ...(noColor ? { color: false as const } : {}) });
  const end = (kind: 'succeed' | 'fail' | 'warn', text: string): void => {
    if (noColor) spinner.stopAndPersist({ symbol: kind === 'succeed' ? '✔' : kind === 'fail' ? '✖' : '⚠', text });
    else spinner[kind](text);
  };
  return {
    sink: (e) => {
      if (e.type === 'phase-start') spinner.start(describe(e) ?? '');
      else if (e.type === 'phase-progress') spinner.text = `${e.phase}${e.repo ? ` ${e.repo}` : ''}: ${e.done}${e.total !== undefined ? `/${e.total}` : ''}${e.label ? ` ${e.label}` : ''}`;
      else if (e.type === 'phase-end') end(e.ok === false ? 'fail' : 'succeed', describe(e) ?? '');
      else if (e.type === 'warning') end('warn', describe(e) ?? '');
      else if (e.type === 'waiting' || e.type === 'info' || e.type === 'task') spinner.info(describe(e) ?? '');
    },
    stop() {
      if (spinner.isSpinning) spinner.stop();
    },
  };
}
