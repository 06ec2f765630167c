import { test } from 'node:test';
import assert from 'node:assert/strict';
import { driftOf } from '../../src/push/deps.js';
import type { RepoSpec } from '../../src/config/index.js';
import type { Engine } from '../../src/engine/index.js';

type Info = NonNullable<ReturnType<Engine['getRepo']>>;

const spec = (over: Partial<RepoSpec> = {}): RepoSpec => ({
  id: 'el',
  kind: 'yum',
  displayName: 'el',
  description: '',
  notes: {},
  importer: { typeId: 'yum_importer', config: {} },
  distributors: [{ id: 'yum_distributor', typeId: 'yum_distributor', config: { http: true, https: false }, autoPublish: false }],
  pushMode: 'additive',
  duplicateNevra: 'replace',
  retainRepoVersions: 0,
  destinations: ['el'],
  origin: 'config',
  ...over,
});

const info = (over: Partial<Info> = {}): Info =>
  ({
    id: 'el',
    displayName: 'el',
    description: '',
    notes: { created_by: 'stagepush push (config)' },
    importer: { typeId: 'yum_importer', config: {} },
    distributors: [{ id: 'yum_distributor', typeId: 'yum_distributor', config: { https: false, http: true }, autoPublish: false, workingDir: '/w', lastPublish: null }],
    retainRepoVersions: 0,
    version: 3,
    unitCount: 1,
    unitCounts: {},
    created: '',
    updated: '',
    ...over,
  }) as Info;

test('config drift: none when in line (key order aside) or not declared; each change named; other types are conflicts', () => {
  assert.equal(driftOf(spec(), info()), null);
  assert.equal(driftOf(spec({ origin: 'auto_create', displayName: 'X' }), info()), null, 'a template applies at creation only');
  const d = driftOf(spec({ displayName: 'EL 9', notes: { team: 're' }, retainRepoVersions: 5, importer: { typeId: 'yum_importer', config: { feed: 'https://x/' } } }), info())!;
  assert.deepEqual(d.changes, ['display_name: "el" -> "EL 9"', 'notes: team', 'retain_repo_versions: 0 -> 5', 'importer yum_importer: config']);
  assert.deepEqual(d.repo, { displayName: 'EL 9', notes: { team: 're' }, retainRepoVersions: 5 });
  assert.equal(d.conflict, undefined);
  const dists = driftOf(spec({ distributors: [{ id: 'yum_distributor', typeId: 'yum_distributor', config: { http: true, https: false }, autoPublish: true }, { id: 'exp', typeId: 'export_distributor', config: {}, autoPublish: false }] }), info())!;
  assert.deepEqual(dists.distributors.map((x) => `${x.op} ${x.id}`), ['update yum_distributor', 'add exp']);
  assert.deepEqual(dists.changes, ['distributor yum_distributor: auto_publish', 'distributor exp: added']);
  // A distributor the repository has and the config does not name stays.
  assert.equal(driftOf(spec(), info({ distributors: [...info().distributors, { id: 'other', typeId: 'export_distributor', config: {}, autoPublish: false, workingDir: '/w', lastPublish: null }] })), null);
  assert.match(driftOf(spec({ importer: { typeId: 'iso_importer', config: {} } }), info())!.conflict!, /has importer yum_importer; the config declares iso_importer/);
  assert.match(driftOf(spec({ distributors: [{ id: 'yum_distributor', typeId: 'iso_distributor', config: {}, autoPublish: false }] }), info())!.conflict!, /distributor yum_distributor is a yum_distributor; the config declares iso_distributor/);
});
