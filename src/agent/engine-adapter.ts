/**
 * Adapts the engine (src/engine) to the API handlers see (AgentEngineApi). Bindings are stored
 * through engine.consumers with the distributor type id beside the payload, so unbind finds its
 * handler even after the distributor was removed from the repository. A consumer's lock is the
 * engine's cross-process lock on the resource `consumer:<name>` (waiting as the engine's lock
 * options say; released when its owner dies).
 */
import type { AgentEngineApi, BindingRecord, ConsumerRecord, UnitFile } from './engine-api.js';

type J = unknown;

/** The members of the engine the agent uses (the real Engine satisfies it). */
export interface EngineLike {
  listTypes(): Array<{ id: string }>;
  listPlugins(): Array<{ id: string; kind: string }>;
  getRepo(id: string): unknown;
  listDistributors(repoId: string): Array<{ id: string; typeId: string }>;
  createConsumerPayload(repoId: string, distId: string, bindingConfig?: Record<string, unknown>): Promise<J>;
  listUnits(
    repoId: string,
    criteria?: { typeIds?: string[]; filters?: Record<string, unknown> },
  ): Array<{ typeId: string; unitKey: Record<string, unknown>; metadata: Record<string, unknown>; storagePath: string | null; sha256?: string | null; size?: number | null }>;
  consumers: {
    register(name: string, c: { root: string; notes?: Record<string, unknown> }): { name: string; root: string; notes: Record<string, unknown>; created: string };
    get(name: string): { name: string; root: string; notes: Record<string, unknown>; created: string } | null;
    list(): Array<{ name: string; root: string; notes: Record<string, unknown>; created: string }>;
    unregister(name: string): void;
    setBinding(name: string, repoId: string, distId: string, payload: unknown): void;
    removeBinding(name: string, repoId: string): void;
    bindings(name: string): Array<{ repoId: string; distributorId: string; payload: J }>;
    setProfile(name: string, typeId: string, profile: unknown): void;
    getProfile(name: string, typeId: string): J;
    lock(name: string): Promise<() => void>;
  };
}

function consumer(c: { name: string; root: string; notes: Record<string, unknown>; created: string }): ConsumerRecord {
  const notes: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.notes ?? {})) notes[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return { id: c.name, root: c.root, notes, registered: c.created };
}

export function fromEngine(engine: EngineLike): AgentEngineApi {
  const toJson = (v: unknown) => JSON.parse(JSON.stringify(v ?? null)) as unknown;
  return {
    contentTypeIds: () => engine.listTypes().map((t) => t.id),
    distributorTypeIds: () => engine.listPlugins().filter((p) => p.kind === 'distributor').map((p) => p.id),
    repoExists: (id) => engine.getRepo(id) !== null,
    listDistributors: (id) => engine.listDistributors(id).map((d) => ({ id: d.id, typeId: d.typeId })),
    createConsumerPayload: (repoId, distId, cfg) => engine.createConsumerPayload(repoId, distId, cfg),
    findUnits(repoId, typeId, filters): UnitFile[] {
      return engine.listUnits(repoId, { typeIds: [typeId], filters }).map((u) => ({
        repoId,
        typeId: u.typeId,
        unitKey: u.unitKey,
        metadata: u.metadata,
        storagePath: u.storagePath,
        sha256: u.sha256 ?? null,
        size: u.size ?? null,
      }));
    },
    consumers: {
      register: (name, f) => consumer(engine.consumers.register(name, { root: f.root, notes: f.notes ?? {} })),
      get: (name) => {
        const c = engine.consumers.get(name);
        return c ? consumer(c) : null;
      },
      list: () => engine.consumers.list().map(consumer),
      unregister: (name) => engine.consumers.unregister(name),
      setBinding: (name, repoId, distId, typeId, payload) => engine.consumers.setBinding(name, repoId, distId, { typeId, payload: toJson(payload) }),
      removeBinding: (name, repoId) => engine.consumers.removeBinding(name, repoId),
      bindings: (name): BindingRecord[] =>
        engine.consumers.bindings(name).map((b) => {
          const stored = (b.payload ?? {}) as { typeId?: unknown; payload?: unknown };
          return { repoId: b.repoId, distributorId: b.distributorId, typeId: typeof stored.typeId === 'string' ? stored.typeId : '', payload: stored.payload ?? null };
        }),
      setProfile: (name, typeId, profile) => engine.consumers.setProfile(name, typeId, toJson(profile)),
      getProfile: (name, typeId) => engine.consumers.getProfile(name, typeId),
      lock: (name) => engine.consumers.lock(name),
    },
  };
}
