/**
 * A small in-memory conduit (importer + publish) for unit-testing plugins without the engine:
 * units in a Map keyed by type + unit key, files content-addressed under `<root>/content`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, rmSync, linkSync, mkdirSync, readFileSync, renameSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import type {
  ImportConduit,
  Json,
  PluginCallConfig,
  PublishConduit,
  Repository,
  Unit,
  UnitCriteria,
} from '../../src/engine/contract.js';
import { tempDir } from './cli.js';

export class FakeStore {
  readonly root: string;
  readonly contentRoot: string;
  readonly publishRoot: string;
  /** repoId → (unit identity → unit) */
  readonly repos = new Map<string, Map<string, Unit>>();
  otherUrls: Record<string, string> = {};
  baseUrls: { http?: string; https?: string } = {};
  private nextId = 1;
  private readonly all = new Map<string, Unit>();

  constructor(root = tempDir('stagepush-fake-')) {
    this.root = root;
    this.contentRoot = path.join(root, 'content');
    this.publishRoot = path.join(root, 'published');
    mkdirSync(this.contentRoot, { recursive: true });
  }

  repo(id: string, plugin = 'plugin'): Repository {
    if (!this.repos.has(id)) this.repos.set(id, new Map());
    const workingDir = path.join(this.root, 'working', id, plugin);
    mkdirSync(workingDir, { recursive: true });
    return { id, displayName: id, description: '', notes: {}, workingDir, version: 0 };
  }

  blobPath(sha256: string): string {
    return path.join(this.contentRoot, 'sha256', sha256.slice(0, 2), sha256.slice(2));
  }

  store(file: string, link: boolean): { sha256: string; size: number; linked: boolean } {
    const data = readFileSync(file);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const dest = this.blobPath(sha256);
    let linked = false;
    if (!existsSync(dest)) {
      mkdirSync(path.dirname(dest), { recursive: true });
      const tmp = `${dest}.tmp-${randomBytes(4).toString('hex')}`;
      if (link) {
        try {
          linkSync(file, tmp);
          linked = true;
        } catch {
          copyFileSync(file, tmp);
        }
      } else copyFileSync(file, tmp);
      renameSync(tmp, dest);
    }
    return { sha256, size: data.length, linked };
  }

  identity(u: Pick<Unit, 'typeId' | 'unitKey'>): string {
    return `${u.typeId}:${JSON.stringify(Object.keys(u.unitKey).sort().map((k) => [k, u.unitKey[k]]))}`;
  }

  units(repoId: string): Unit[] {
    return [...(this.repos.get(repoId)?.values() ?? [])];
  }

  importer(repoId: string, signal = new AbortController().signal, sourceRepoId?: string): ImportConduit {
    const repoUnits = this.repos.get(repoId) ?? new Map<string, Unit>();
    this.repos.set(repoId, repoUnits);
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias
    const reader = this.reader(repoId);
    let scratch: Json | undefined;
    let repoScratch: Json | undefined;
    const conduit: ImportConduit = {
      ...reader,
      signal,
      progress: [] as Json[],
      setProgress(p: Json) {
        (conduit as unknown as { progress: Json[] }).progress.push(p);
      },
      getScratchpad: () => scratch,
      setScratchpad: (v: Json) => void (scratch = v),
      getRepoScratchpad: () => repoScratch,
      setRepoScratchpad: (v: Json) => void (repoScratch = v),
      initUnit(typeId, unitKey, metadata, relativePath) {
        let storagePath: string | null = null;
        if (relativePath !== null) {
          const tmpDir = path.join(self.contentRoot, 'tmp');
          mkdirSync(tmpDir, { recursive: true });
          storagePath = path.join(tmpDir, randomBytes(8).toString('hex'));
        }
        return { typeId, unitKey, metadata, relativePath, storagePath };
      },
      saveUnit(unit) {
        const saved: Unit = { ...unit };
        if (unit.storagePath && !unit.storagePath.startsWith(path.join(self.contentRoot, 'sha256'))) {
          const s = self.store(unit.storagePath, false);
          rmSync(unit.storagePath, { force: true }); // the engine renames it into the store
          saved.storagePath = self.blobPath(s.sha256);
          saved.sha256 = s.sha256;
          saved.size = s.size;
        }
        const key = self.identity(unit);
        const existing = self.all.get(key);
        saved.id = existing?.id ?? String(self.nextId++);
        self.all.set(key, saved);
        repoUnits.set(key, saved);
        return saved;
      },
      saveUnitFromFile(unit, filePath) {
        const s = self.store(filePath, true);
        return conduit.saveUnit({ ...unit, storagePath: self.blobPath(s.sha256), sha256: s.sha256, size: s.size });
      },
      storeBlob: (filePath) => self.store(filePath, true),
      linkUnit() {},
      getStoredUnit(typeId, unitKey) {
        const key = self.identity({ typeId, unitKey });
        for (const units of self.repos.values()) {
          const u = units.get(key);
          if (u) return u;
        }
        return null;
      },
      removeUnit(unit) {
        repoUnits.delete(self.identity(unit));
      },
      getSourceUnits: (c?: UnitCriteria) => (sourceRepoId ? self.reader(sourceRepoId).getUnits(c) : []),
      iterSourceUnits: (c?: UnitCriteria) => (sourceRepoId ? self.reader(sourceRepoId).getUnits(c) : []),
    } as ImportConduit;
    return conduit;
  }

  reader(repoId: string) {
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias
    const select = (c: UnitCriteria = {}): Unit[] => {
      let us = self.units(repoId);
      if (c.typeIds) us = us.filter((u) => c.typeIds!.includes(u.typeId));
      if (c.filters) {
        for (const [k, v] of Object.entries(c.filters)) us = us.filter((u) => (u.unitKey[k] ?? u.metadata[k]) === v);
      }
      return us.sort((a, b) => (a.typeId + JSON.stringify(a.unitKey) < b.typeId + JSON.stringify(b.unitKey) ? -1 : 1));
    };
    return {
      getUnits: (c?: UnitCriteria) => select(c),
      iterUnits: (c?: UnitCriteria) => select(c),
      countUnits: (c?: UnitCriteria) => select(c).length,
      getLinkedUnits: () => [],
      blobPath: (sha: string) => self.blobPath(sha),
    };
  }

  publisher(repoId: string, signal = new AbortController().signal): PublishConduit {
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias
    let scratch: Json | undefined;
    return {
      ...this.reader(repoId),
      signal,
      setProgress() {},
      getScratchpad: () => scratch,
      setScratchpad: (v: Json) => void (scratch = v),
      getRepoScratchpad: () => undefined,
      setRepoScratchpad() {},
      repoVersion: 1,
      publishRoot: self.publishRoot,
      baseUrls: self.baseUrls,
      otherRelativeUrls: () => ({ ...self.otherUrls }),
      contentRoot: self.contentRoot,
    };
  }
}

/** A call config over plain layers (override > repo > plugin). */
export function fakeConfig(repo: Record<string, unknown> = {}, override: Record<string, unknown> = {}, plugin: Record<string, unknown> = {}): PluginCallConfig {
  const layers = [override, repo, plugin];
  return {
    get<T>(key: string, def?: T): T | undefined {
      for (const l of layers) if (Object.prototype.hasOwnProperty.call(l, key) && l[key] !== undefined && l[key] !== null) return l[key] as T;
      return def;
    },
    has: (key: string) => layers.some((l) => Object.prototype.hasOwnProperty.call(l, key) && l[key] !== undefined && l[key] !== null),
    flatten: () => ({ ...plugin, ...repo, ...override }),
    override,
    repo,
    plugin,
  };
}

export function fileSha256(p: string): string {
  return createHash('sha256').update(readFileSync(p)).digest('hex');
}

export function modeOf(p: string): number {
  return statSync(p).mode & 0o7777;
}
