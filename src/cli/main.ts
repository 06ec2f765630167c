import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { StagepushError, exitStatusFor, formatError, EXIT } from '../errors.js';
import { addGlobalOptions } from './globals.js';
import { registerCommands } from './commands.js';

function packageVersion(): string {
  const url = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('stagepush')
    .description('Push staged release content into yum and file repositories held by an embedded repository engine.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .allowExcessArguments(false)
    .exitOverride();
  addGlobalOptions(program);
  registerCommands(program);
  // Every sub-command shares the error/exit behaviour.
  const walk = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(walk);
  };
  walk(program);
  return program;
}

let interrupted: 'SIGINT' | 'SIGTERM' | null = null;
const interruptController = new AbortController();

/**
 * Aborted on the first SIGINT/SIGTERM. Long-running commands pass it to the engine (which calls
 * the plugin's cancel hook and rolls back); a second signal exits at once.
 */
export const interruptSignal: AbortSignal = interruptController.signal;

export function interruptedBy(): 'SIGINT' | 'SIGTERM' | null {
  return interrupted;
}

/** The error a command throws when it stopped because of a signal. */
export function interruptError(): StagepushError {
  const sig = interrupted ?? 'SIGINT';
  return new StagepushError(sig === 'SIGTERM' ? 'INTERRUPTED_SIGTERM' : 'INTERRUPTED_SIGINT', `interrupted by ${sig}`, { kind: 'interrupted' });
}

function installSignalHandlers(): void {
  const onSignal = (sig: 'SIGINT' | 'SIGTERM') => {
    const status = sig === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
    if (interrupted) process.exit(status);
    interrupted = sig;
    interruptController.abort(interruptError());
    // Nothing is listening (a short command): leave now with the signal's status.
    setImmediate(() => {
      if (!interruptListened) process.exit(status);
    });
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}

/**
 * A reader that went away (`stagepush push … 2>&1 | head -1` in a cron line, `push show | head`)
 * is not a failure of the command: what it would have read is dropped, and the command goes on
 * to its end (a push completes and keeps its audit trail). Other output errors still fail.
 */
function ignoreClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return;
      throw e;
    });
  }
}

let interruptListened = false;
/** Commands that handle interruption themselves call this before their long work. */
export function handleInterrupts(): AbortSignal {
  interruptListened = true;
  return interruptSignal;
}

export async function main(argv: string[]): Promise<void> {
  // `stagepush --version` alone: answered before commander and the command tree are loaded (as commander would).
  if (argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) {
    process.stdout.write(`${packageVersion()}\n`);
    process.exitCode = 0;
    return;
  }
  installSignalHandlers();
  ignoreClosedPipes();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    if (process.exitCode === undefined) process.exitCode = EXIT.ok;
  } catch (err) {
    const json = argv.includes('--json');
    if (err instanceof CommanderError) {
      // --help / --version exit with 0; usage errors with 2 (commander printed the message; with
      // --json stdout gets it as JSON too, as for every other error).
      process.exitCode = err.exitCode === 0 ? 0 : EXIT.usage;
      if (json && err.exitCode !== 0) process.stdout.write(JSON.stringify({ error: { code: 'CLI_USAGE', kind: 'usage', message: err.message.replace(/^error: /, '') } }, null, 2) + '\n');
      return;
    }
    if (json) process.stdout.write(JSON.stringify({ error: err instanceof StagepushError ? err.toJSON() : { code: 'INTERNAL', message: String((err as Error)?.message ?? err) } }, null, 2) + '\n');
    process.stderr.write(formatError(err) + '\n');
    process.exitCode = exitStatusFor(err);
  }
}
