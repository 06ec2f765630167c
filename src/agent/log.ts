/**
 * The agent log. `agent.log` selects where handler messages go:
 *   syslog      (default) through logger(1) to /dev/log, tag "stagepush-agent", facility user;
 *               when the host has no syslog socket, stderr (said once in the first message);
 *   file:PATH   appended to PATH, one timestamped line per message;
 *   stderr      one line per message on stderr.
 */
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
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

function line(level: LogLevel, message: string): string {
  return `${new Date().toISOString()} stagepush-agent[${process.pid}] ${level.toUpperCase()} ${message}`;
}

/** A logger writing to the target; `minLevel` drops debug messages unless asked. */
export function createLogger(target: LogTarget, opts: { debug?: boolean } = {}): AgentLogger {
  let fellBack = false;
  const write = (level: LogLevel, message: string) => {
    if (level === 'debug' && !opts.debug) return;
    if (target.kind === 'file') {
      mkdirSync(path.dirname(target.path), { recursive: true });
      appendFileSync(target.path, line(level, message) + '\n');
      return;
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
