/**
 * The part of the engine the agent uses, as handlers see it through `conduit.engine`. The CLI
 * adapts the real engine to this interface (`fromEngine` in ./engine-adapter.ts); tests may
 * pass their own.
 */
export interface ConsumerRecord {
  id: string;
  /** Absolute filesystem root of the consumer. */
  root: string;
  notes: Record<string, string>;
  registered?: string;
}

export interface BindingRecord {
  repoId: string;
  distributorId: string;
  /** Distributor type id at bind time. */
  typeId: string;
  /** The consumer payload the distributor made at bind time. */
  payload: unknown;
}

export interface UnitFile {
  repoId: string;
  typeId: string;
  unitKey: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** Path of the stored file, or null for metadata-only units. */
  storagePath: string | null;
  sha256: string | null;
  size: number | null;
}

export interface ConsumerStore {
  register(name: string, fields: { root: string; notes?: Record<string, string> }): ConsumerRecord;
  get(name: string): ConsumerRecord | null;
  list(): ConsumerRecord[];
  unregister(name: string): void;
  setBinding(name: string, repoId: string, distributorId: string, typeId: string, payload: unknown): void;
  removeBinding(name: string, repoId: string): void;
  bindings(name: string): BindingRecord[];
  setProfile(name: string, typeId: string, profile: unknown): void;
  getProfile(name: string, typeId: string): unknown;
  /**
   * Hold the consumer against other processes (bind, unbind, clean and unregister rewrite the
   * consumer's files and bindings: two at once would lose one's changes); waits while another
   * holds it. Resolves with the release function. Re-entrant within one engine.
   */
  lock(name: string): Promise<() => void>;
}

export interface AgentEngineApi {
  /** Declared content type ids. */
  contentTypeIds(): string[];
  /** Installed distributor type ids. */
  distributorTypeIds(): string[];
  repoExists(repoId: string): boolean;
  /** The repository's distributors (id and type id), in the order added. */
  listDistributors(repoId: string): Array<{ id: string; typeId: string }>;
  createConsumerPayload(repoId: string, distributorId: string, bindingConfig: Record<string, unknown>): Promise<unknown>;
  /** Units of a type in a repository whose unit key / metadata match `filters` (equality). */
  findUnits(repoId: string, typeId: string, filters: Record<string, unknown>): UnitFile[];
  readonly consumers: ConsumerStore;
}
