/**
 * The agent log. `agent.log` selects where handler messages go:
 *   syslog      (default) through logger(1) to /dev/log, tag "stagepush-agent", facility user;
 *               when the host has no syslog socket, stderr (said once in the first message);
 *   file:PATH   appended to PATH, one timestamped line per message;
 *   stderr      one line per message on stderr.
 *
 * A log file that cannot be written (a directory, no permission, a read-only file system) refuses
 * the command before it does anything (checkLogTarget: AGENT_LOG_UNWRITABLE, exit 3): a cron job
 * must not install packages and lose what its handlers said. A write that fails later (the disk
 * filled up, the file was taken away) does not stop the operation half done: that message and the
 * rest go to stderr, said once, as for syslog.
 */
import { accessSync, appendFileSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { StagepushError } from '../errors.js';
import type { AgentLogger } from './handler.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const SYSLOG_PRIORITY: Record<LogLevel, string> = { debug: 'user.debug', info: 'user.info', warn: 'user.warning', error: 'user.err' };

export type LogTarget = { kind: 'syslog'; socket: string } | { kind: 'file'; path: string } | { kind: 'stderr' };

/** Parse an `agent.log` value (`syslog`, `file:PATH`, `stderr`). */
export function parseLogTarget(spec: string | undefined, where = 'agent.log'): LogTarget {
  const s = (spec ?? 'syslog').trim();
  if (s === 'syslog') return { kind: 'syslog', socket: '/dev/log' };
  if (s === 'stderr') return { kind: 'stderr' };
  if (s.startsWith('file:') && s.length > 5) return { kind: 'file', path: path.resolve(s.slice(5)) };
  throw new StagepushError('AGENT_LOG_INVALID', `${where}: expected syslog, stderr or file:PATH, got "${s}"`, { kind: 'usage', field: 'agent.log' });
}

const ERRNO_TEXT: Record<string, string> = {
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a component of the path is not a directory',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
};

function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return ERRNO_TEXT[err?.code ?? ''] ?? (err?.message || String(e));
}

/**
 * Refuse a `file:PATH` target the agent could not append to, naming the file and where the setting
 * came from (`where`), without making anything: the file must be writable, or (when it is not there
 * yet) the nearest existing directory above it, where the first message creates it.
 */
export function checkLogTarget(target: LogTarget, where = 'agent.log'): void {
  if (target.kind !== 'file') return;
  const refuse = (why: string, cause?: unknown) =>
    new StagepushError('AGENT_LOG_UNWRITABLE', `${where}: the agent log file ${target.path} cannot be written: ${why}`, {
      kind: 'invalid',
      file: target.path,
      field: 'agent.log',
      cause,
      hint: 'give a file this user may append to (file:PATH), or stderr or syslog',
    });
  let probe = target.path;
  for (;;) {
    let st;
    try {
      st = statSync(probe);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Not there (or below a file): up to the nearest thing that is, to say what it is.
      if ((code === 'ENOENT' || code === 'ENOTDIR') && path.dirname(probe) !== probe) {
        probe = path.dirname(probe);
        continue;
      }
      throw refuse(errnoText(e), e);
    }
    if (probe === target.path && st.isDirectory()) throw refuse(ERRNO_TEXT.EISDIR!);
    if (probe !== target.path && !st.isDirectory()) throw refuse(`${probe} is not a directory`);
    try {
      // access(2) says EROFS for a read-only mount too (even to root).
      accessSync(probe, probe === target.path ? constants.W_OK : constants.W_OK | constants.X_OK);
    } catch (e) {
      throw refuse(probe === target.path ? errnoText(e) : `cannot create it in ${probe}: ${errnoText(e)}`, e);
    }
    return;
  }
}

function line(level: LogLevel, message: string): string {
  return `${new Date().toISOString()} stagepush-agent[${process.pid}] ${level.toUpperCase()} ${message}`;
}

/** A logger writing to the target; `minLevel` drops debug messages unless asked. */
export function createLogger(target: LogTarget, opts: { debug?: boolean } = {}): AgentLogger {
  let fellBack = false;
  let fileFailed = false;
  const write = (level: LogLevel, message: string) => {
    if (level === 'debug' && !opts.debug) return;
    if (target.kind === 'file' && !fileFailed) {
      try {
        mkdirSync(path.dirname(target.path), { recursive: true });
        appendFileSync(target.path, line(level, message) + '\n');
        return;
      } catch (e) {
        // Checked writable when the command started: failing now is no reason to stop an install
        // half done. This message and the next ones go to stderr, said once.
        fileFailed = true;
        process.stderr.write(line('warn', `cannot write the agent log file ${target.path} (${errnoText(e)}): agent log messages go to stderr`) + '\n');
      }
    }
    if (target.kind === 'syslog' && existsSync(target.socket)) {
      const r = spawnSync('logger', ['--socket-errors=on', '-u', target.socket, '-t', 'stagepush-agent', '-p', SYSLOG_PRIORITY[level], '--', message], { stdio: 'ignore' });
      if (r.status === 0) return;
    }
    if (target.kind === 'syslog' && !fellBack) {
      fellBack = true;
      process.stderr.write(line('warn', `syslog is not available (${target.socket}): agent log messages go to stderr`) + '\n');
    }
    process.stderr.write(line(level, message) + '\n');
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
  };
}
