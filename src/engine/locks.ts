/**
 * Cross-process repository locks, kept in the engine database: one row per locked resource with
 * the owner's pid, host and a heartbeat. A lock whose owner process is gone (same host: the pid
 * is not alive; other host: no heartbeat for STALE_MS) is released at once by the next taker.
 * Locks are re-entrant inside one engine (an operation holding a repository may publish it).
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { StagepushError } from '../errors.js';
import type { EventSink } from '../events.js';
import { isPidAlive } from './store.js';
import type { LockRow, Storage } from './storage.js';

export const HEARTBEAT_MS = 5_000;
export const STALE_MS = 60_000;
const POLL_MS = 150;

export function lockOwnerDead(row: LockRow, host: string, now = Date.now()): boolean {
  if (row.host === host) return !isPidAlive(row.pid);
  return now - row.heartbeat > STALE_MS;
}

export function describeOwner(row: LockRow): string {
  return `pid ${row.pid} on ${row.host}${row.task_id ? `, task ${row.task_id}` : ''}, since ${new Date(row.acquired).toISOString()}`;
}

export interface AcquireOptions {
  wait: boolean;
  timeoutSec?: number;
  taskId?: string | null;
  signal?: AbortSignal;
  /** Called while waiting; throwing stops the wait (task canceled). */
  check?: () => void;
  events?: EventSink;
}

export class LockManager {
  readonly host = os.hostname();
  private held = new Map<string, { token: string; count: number }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private st: Storage) {}

  private tryOne(resource: string, taskId: string | null): LockRow | null {
    return this.st.tx(() => {
      const row = this.st.getLock(resource);
      if (row) {
        if (!lockOwnerDead(row, this.host)) return row;
        this.st.deleteLock(resource, row.token);
      }
      const now = Date.now();
      const token = randomBytes(8).toString('hex');
      this.st.insertLock({ resource, pid: process.pid, host: this.host, task_id: taskId, acquired: now, heartbeat: now, token });
      this.held.set(resource, { token, count: 1 });
      return null;
    });
  }

  /** Take every resource (in sorted order); resolves with a release function. */
  async acquire(resources: string[], opts: AcquireOptions): Promise<() => void> {
    const sorted = [...new Set(resources)].sort();
    const taken: string[] = [];
    const release = () => {
      for (const r of taken.reverse()) this.releaseOne(r);
      taken.length = 0;
    };
    try {
      for (const r of sorted) {
        await this.acquireOne(r, opts);
        taken.push(r);
      }
    } catch (e) {
      release();
      throw e;
    }
    this.startHeartbeat();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
    };
  }

  private async acquireOne(resource: string, opts: AcquireOptions): Promise<void> {
    const mine = this.held.get(resource);
    if (mine) {
      mine.count++;
      return;
    }
    const start = Date.now();
    let announced = false;
    for (;;) {
      const blocker = this.tryOne(resource, opts.taskId ?? null);
      if (!blocker) return;
      const who = describeOwner(blocker);
      if (!opts.wait) throw new StagepushError('ENGINE_LOCKED', `${resource} is locked by another run (${who})`, { kind: 'locked', hint: 'retry later, or let it wait (no --no-wait, lock.wait: true in the config, or --wait-timeout S)', details: { resource, pid: blocker.pid, host: blocker.host, taskId: blocker.task_id } });
      if (opts.timeoutSec !== undefined && Date.now() - start >= opts.timeoutSec * 1000)
        throw new StagepushError('ENGINE_LOCKED', `${resource} is still locked by another run (${who}) after waiting ${opts.timeoutSec}s`, { kind: 'locked', details: { resource, pid: blocker.pid, host: blocker.host, taskId: blocker.task_id } });
      if (!announced) {
        announced = true;
        opts.events?.({ type: 'waiting', resource, owner: who, label: 'another run holds the lock' });
      }
      if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new StagepushError('ENGINE_TASK_CANCELED', 'canceled while waiting for a lock', { kind: 'interrupted' });
      opts.check?.();
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  private releaseOne(resource: string): void {
    const mine = this.held.get(resource);
    if (!mine) return;
    if (--mine.count > 0) return;
    this.held.delete(resource);
    try {
      this.st.deleteLock(resource, mine.token);
    } catch {
      /* the database is closing; the lock dies with the process */
    }
    if (!this.held.size) this.stopHeartbeat();
  }

  holds(resource: string): boolean {
    return this.held.has(resource);
  }

  private startHeartbeat(): void {
    if (this.timer || !this.held.size) return;
    this.timer = setInterval(() => {
      try {
        this.st.heartbeat([...this.held.values()].map((h) => h.token), Date.now());
      } catch {
        /* database busy or closed: next beat */
      }
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  private stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  releaseAll(): void {
    for (const [r, h] of this.held) {
      try {
        this.st.deleteLock(r, h.token);
      } catch {
        /* closing */
      }
    }
    this.held.clear();
    this.stopHeartbeat();
  }
}
