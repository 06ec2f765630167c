/** Test helpers for the consumer agent: an in-memory engine API and descriptor writers. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentEngineApi, BindingRecord, ConsumerRecord, UnitFile } from '../../src/agent/engine-api.js';
import type { AgentLogger } from '../../src/agent/handler.js';
import { BUILTIN_TYPES } from '../../src/plugins/builtins.js';

export const CONTENT_TYPES = new Set(BUILTIN_TYPES.map((t) => t.id));
export const DISTRIBUTOR_TYPES = new Set(['yum_distributor', 'iso_distributor', 'test_distributor']);

export interface MemoryEngine extends AgentEngineApi {
  repos: Map<string, { distributors: Array<{ id: string; typeId: string }>; payloads: Record<string, unknown>; units: UnitFile[] }>;
}

/** An in-memory engine API (what the real engine adapter provides), for handler unit tests. */
export function memoryEngine(): MemoryEngine {
  const consumers = new Map<string, ConsumerRecord>();
  const bindings = new Map<string, BindingRecord[]>();
  const profiles = new Map<string, unknown>();
  const repos: MemoryEngine['repos'] = new Map();
  const locks = new Map<string, Promise<void>>();
  return {
    repos,
    contentTypeIds: () => [...CONTENT_TYPES],
    distributorTypeIds: () => [...DISTRIBUTOR_TYPES],
    repoExists: (id) => repos.has(id),
    listDistributors: (id) => repos.get(id)?.distributors ?? [],
    createConsumerPayload: (repoId, distId) => Promise.resolve(repos.get(repoId)?.payloads[distId] ?? null),
    findUnits: (repoId, typeId, filters) =>
      (repos.get(repoId)?.units ?? []).filter((u) => u.typeId === typeId && Object.entries(filters).every(([k, v]) => u.unitKey[k] === v || u.metadata[k] === v)),
    consumers: {
      register(name, f) {
        const c = { id: name, root: f.root, notes: f.notes ?? {}, registered: new Date().toISOString() };
        consumers.set(name, c);
        return c;
      },
      get: (name) => consumers.get(name) ?? null,
      list: () => [...consumers.values()],
      unregister(name) {
        consumers.delete(name);
        bindings.delete(name);
      },
      setBinding(name, repoId, distributorId, typeId, payload) {
        const list = (bindings.get(name) ?? []).filter((b) => b.repoId !== repoId);
        list.push({ repoId, distributorId, typeId, payload });
        bindings.set(name, list);
      },
      removeBinding(name, repoId) {
        bindings.set(name, (bindings.get(name) ?? []).filter((b) => b.repoId !== repoId));
      },
      bindings: (name) => bindings.get(name) ?? [],
      setProfile(name, typeId, profile) {
        profiles.set(`${name}\0${typeId}`, profile);
      },
      getProfile: (name, typeId) => profiles.get(`${name}\0${typeId}`) ?? null,
      // One holder at a time per consumer, in this process (the real engine's lock is cross-process).
      lock(name) {
        const prev = locks.get(name) ?? Promise.resolve();
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        locks.set(name, prev.then(() => held));
        return prev.then(() => release);
      },
    },
  };
}

/** A logger collecting lines (level + message). */
export function memoryLog(): AgentLogger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    const p = path.join(dir, name);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
}
