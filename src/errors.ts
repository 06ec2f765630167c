/**
 * The one error class of stagepush. Every expected failure is a StagepushError with a stable
 * `code` (UPPER_SNAKE, prefixed by its area: RPM_, STAGED_, ENGINE_, PLUGIN_, PUSH_, AGENT_, ...),
 * a message that names the file (and field) it is about, an optional hint and cause.
 *
 * `kind` says which exit status the CLI gives it; `exitStatusFor` is the only place that maps
 * errors to exit statuses (see README "Exit statuses").
 */
export type ErrorKind =
  | 'usage' // 2: bad command line
  | 'invalid' // 3: invalid input (staging area, config, metadata, plugin config)
  | 'policy' // 4: refused by policy (signing, duplicate NEVRA refused, free space...)
  | 'locked' // 5: locked by another run (with --no-wait or after --wait-timeout)
  | 'failed' // 6: import or publish failed
  | 'interrupted' // 130/143
  | 'internal'; // 1: a bug

export interface ProblemLocation {
  /** File the problem is about (absolute or as given by the user). */
  file?: string;
  /** Entry inside the file (e.g. a staged.yaml relative_path, an advisory id). */
  entry?: string;
  /** Field (dotted path) inside the entry. */
  field?: string;
}

export interface StagepushErrorOptions extends ProblemLocation {
  kind?: ErrorKind;
  hint?: string;
  cause?: unknown;
  /** Further problems of the same run (every problem is reported, not only the first). */
  problems?: Problem[];
  /** Extra machine-readable details for --json output. */
  details?: Record<string, unknown>;
}

/** One problem found in the input: what `ls`/`push` list when they report every error. */
export interface Problem extends ProblemLocation {
  code: string;
  message: string;
}

export class StagepushError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly hint?: string;
  readonly file?: string;
  readonly entry?: string;
  readonly field?: string;
  readonly problems: Problem[];
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, opts: StagepushErrorOptions = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'StagepushError';
    this.code = code;
    this.kind = opts.kind ?? 'invalid';
    this.hint = opts.hint;
    this.file = opts.file;
    this.entry = opts.entry;
    this.field = opts.field;
    this.problems = opts.problems ?? [];
    this.details = opts.details;
  }

  toProblem(): Problem {
    const p: Problem = { code: this.code, message: this.message };
    if (this.file !== undefined) p.file = this.file;
    if (this.entry !== undefined) p.entry = this.entry;
    if (this.field !== undefined) p.field = this.field;
    return p;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      kind: this.kind,
      message: this.message,
      ...(this.file !== undefined ? { file: this.file } : {}),
      ...(this.entry !== undefined ? { entry: this.entry } : {}),
      ...(this.field !== undefined ? { field: this.field } : {}),
      ...(this.hint !== undefined ? { hint: this.hint } : {}),
      ...(this.problems.length ? { problems: this.problems } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export function isStagepushError(err: unknown): err is StagepushError {
  return err instanceof StagepushError;
}

/** Exit statuses, fixed for every command (documented in README). */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  invalid: 3,
  policy: 4,
  locked: 5,
  failed: 6,
  sigint: 130,
  sigterm: 143,
} as const;

/** The only place that maps an error to an exit status. */
export function exitStatusFor(err: unknown): number {
  if (!(err instanceof StagepushError)) return EXIT.internal;
  switch (err.kind) {
    case 'usage':
      return EXIT.usage;
    case 'invalid':
      return EXIT.invalid;
    case 'policy':
      return EXIT.policy;
    case 'locked':
      return EXIT.locked;
    case 'failed':
      return EXIT.failed;
    case 'interrupted':
      return err.code === 'INTERRUPTED_SIGTERM' ? EXIT.sigterm : EXIT.sigint;
    default:
      return EXIT.internal;
  }
}

/** Render an error for a human on stderr (one line, then hint / problems). */
export function formatError(err: unknown): string {
  if (err instanceof StagepushError) {
    const lines = [`error [${err.code}]: ${err.message}`];
    for (const p of err.problems) {
      const where = [p.file, p.entry, p.field].filter((x) => x !== undefined && x !== '').join(': ');
      // A message that starts with its file (the loader's say where they are on their own) does
      // not name it twice.
      const message = p.file && p.message.startsWith(`${p.file}: `) ? p.message.slice(p.file.length + 2) : p.message;
      lines.push(`  - [${p.code}] ${where ? where + ': ' : ''}${message}`);
    }
    if (err.hint) lines.push(`hint: ${err.hint}`);
    return lines.join('\n');
  }
  const e = err as Error;
  return `internal error: ${e && e.stack ? e.stack : String(err)}`;
}
