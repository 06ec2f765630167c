import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { StagepushError } from '../errors.js';

/** Options shared by every command (resolved: flag > environment > config file > default). */
export interface GlobalOptions {
  dataDir: string;
  /**
   * The --config file, or undefined: loadConfig then takes $STAGEPUSH_CONFIG itself, so that a
   * missing file is said as named by the variable (exit 3), not as a bad --config (exit 2).
   */
  configFile?: string;
  json: boolean;
  verbose: number;
  quiet: boolean;
  /** Wait for locks held by another run (false with --no-wait). */
  wait: boolean;
  /** Seconds to wait for a lock; undefined = forever. */
  waitTimeout?: number;
  progress?: 'tty' | 'plain' | 'ndjson' | 'none';
}

/** Default data dir: $XDG_DATA_HOME/stagepush, or /var/lib/stagepush when run as root. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return '/var/lib/stagepush';
  const xdg = env.XDG_DATA_HOME && env.XDG_DATA_HOME.trim() ? env.XDG_DATA_HOME : path.join(os.homedir(), '.local', 'share');
  return path.join(xdg, 'stagepush');
}

/** Default config search: $XDG_CONFIG_HOME/stagepush/config.yaml, then /etc/stagepush/config.yaml. */
export function defaultConfigCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const xdg = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.trim() ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return [path.join(xdg, 'stagepush', 'config.yaml'), '/etc/stagepush/config.yaml'];
}

export function addGlobalOptions(program: Command): Command {
  return program
    .option('--data-dir <dir>', 'engine data directory (env STAGEPUSH_DATA_DIR; default $XDG_DATA_HOME/stagepush, /var/lib/stagepush as root)')
    .option('--config <file>', 'configuration file (env STAGEPUSH_CONFIG)')
    .option('--json', 'machine-readable JSON output')
    .option('-v, --verbose', 'more output (repeatable)', (_v: string, prev: number) => prev + 1, 0)
    .option('-q, --quiet', 'print nothing on success')
    .option('--no-wait', 'do not wait for a lock held by another run: exit 5 at once')
    .option('--wait-timeout <seconds>', 'give up waiting for a lock after this many seconds (exit 5)');
}

/**
 * Resolve the global options of a command. `fromConfig` is what the config file says (data_dir),
 * loaded by the command that needs it; flags win over the environment, which wins over the file.
 */
export function resolveGlobals(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
  fromConfig: { dataDir?: string } = {},
): GlobalOptions {
  // An empty --data-dir (a cron line's "$DIR" with DIR unset) is refused, not taken as the
  // current directory.
  if (raw.dataDir !== undefined && !String(raw.dataDir).trim()) throw new StagepushError('CLI_BAD_OPTION', '--data-dir: an empty path', { kind: 'usage', field: '--data-dir' });
  // Likewise --config "" (it fell back to the default search and pushed with the embedded default).
  if (raw.config !== undefined && !String(raw.config).trim()) throw new StagepushError('CLI_BAD_OPTION', '--config: an empty path', { kind: 'usage', field: '--config' });
  const dataDir =
    (raw.dataDir as string | undefined) ??
    (env.STAGEPUSH_DATA_DIR && env.STAGEPUSH_DATA_DIR.trim() ? env.STAGEPUSH_DATA_DIR : undefined) ??
    fromConfig.dataDir ??
    defaultDataDir(env);
  const configFile = raw.config as string | undefined;
  let waitTimeout: number | undefined;
  if (raw.waitTimeout !== undefined) {
    const n = Number(raw.waitTimeout);
    if (String(raw.waitTimeout).trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new StagepushError('CLI_BAD_NUMBER', `--wait-timeout: expected a number of seconds >= 0, got ${JSON.stringify(raw.waitTimeout)}`, { kind: 'usage', field: '--wait-timeout' });
    }
    waitTimeout = n;
  }
  return {
    dataDir: path.resolve(dataDir),
    configFile,
    json: Boolean(raw.json),
    verbose: Number(raw.verbose ?? 0),
    quiet: Boolean(raw.quiet),
    wait: raw.wait !== false,
    waitTimeout,
  };
}
