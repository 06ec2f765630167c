import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText, defaultConfig, declaredRepos } from '../../src/config/index.js';
import { routeItems } from '../../src/push/route.js';
import { canonicalJson, keyOf, planRepo, rpmvercmp, type ExistingUnit, type DesiredItem, type PlanUnit } from '../../src/push/plan.js';
import type { PushItemLike } from '../../src/push/items.js';

const item = (kind: string, name: string, dest: string, extra: Partial<PushItemLike> = {}): PushItemLike => ({
  kind,
  name,
  src: `/stage/${dest}/${name}`,
  dest: [dest],
  sha256sum: null,
  md5sum: null,
  signing_key: null,
  ...extra,
});

test('routing: auto-created repositories by item family; mixed destination is an error naming both', () => {
  const items = [
    item('RpmPushItem', 'a-1-1.noarch.rpm', 'd-yum'),
    item('CGWPushItem', 'gw.yaml', 'd-yum'),
    item('FilePushItem', 'f.iso', 'd-file'),
    item('DirectoryPushItem', 'd-raw', 'd-raw'),
    item('RpmPushItem', 'b-1-1.noarch.rpm', 'd-mixed'),
    item('FilePushItem', 'g.iso', 'd-mixed'),
  ];
  const r = routeItems(items, defaultConfig());
  assert.deepEqual(r.repos.map((x) => [x.id, x.kind, x.distributors.map((d) => d.typeId).join('+')]), [
    ['d-file', 'file', 'iso_distributor'],
    ['d-raw', 'directory', 'directory_distributor'],
    ['d-yum', 'yum', 'yum_distributor+export_distributor'],
  ]);
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0]!.code, 'PUSH_MIXED_DESTINATION');
  assert.match(r.problems[0]!.message, /b-1-1\.noarch\.rpm/);
  assert.match(r.problems[0]!.message, /g\.iso/);
});

test('routing: one destination to several repositories, filters, unknown_destination error lists known', () => {
  const c = parseConfigText('unknown_destination: error\nrepositories:\n  r1:\n    type: yum\n    destinations: [d1]\n  r2:\n    type: yum\n    destinations: [d1, d2]\n  files:\n    type: file\n    destinations: [d3]\n', '/c');
  const items = [item('RpmPushItem', 'a.rpm', 'd1'), item('RpmPushItem', 'b.rpm', 'd2'), item('RpmPushItem', 'c.rpm', 'd3'), item('RpmPushItem', 'e.rpm', 'nowhere'), item('DockerPushItem', 'x', 'd1')];
  const r = routeItems(items, c, { exclude: ['d2'] });
  assert.deepEqual(r.assignments.map((a) => `${a.repoId}:${a.item.name}`).sort(), ['r1:a.rpm', 'r2:a.rpm']);
  assert.deepEqual(r.filtered, [1]);
  const codes = r.problems.map((p) => p.code).sort();
  assert.deepEqual(codes, ['PUSH_TYPE_NOT_HELD', 'PUSH_UNKNOWN_DESTINATION', 'PUSH_UNSUPPORTED_CONTENT']);
  const unknown = r.problems.find((p) => p.code === 'PUSH_UNKNOWN_DESTINATION')!;
  assert.match(unknown.message, /known destinations: d1, d2, d3/);
  const notHeld = r.problems.find((p) => p.code === 'PUSH_TYPE_NOT_HELD')!;
  assert.match(notHeld.message, /c\.rpm/);
  assert.match(notHeld.message, /files/);
  const only = routeItems(items, c, { include: ['d2'] });
  assert.deepEqual(only.assignments.map((a) => `${a.repoId}:${a.item.name}`), ['r2:b.rpm']);
  // r2 is fed by d1 and d2: with either left out, it is partial this time; r1 never is.
  assert.deepEqual([...r.partial], [['r2', ['d2']]]);
  assert.deepEqual([...only.partial], [['r2', ['d1']]]);
  assert.deepEqual([...routeItems(items, c).partial], []);
});

test('routing: a destination declared for a yum and a file repository gives each item to the one that holds it; an item neither holds is refused naming both', () => {
  const c = parseConfigText('repositories:\n  mix-yum: {type: yum, destinations: [mix]}\n  mix-files: {type: file, destinations: [mix]}\n  only-yum: {type: yum, destinations: [one]}\n', '/c');
  const items = [item('RpmPushItem', 'a-1-1.noarch.rpm', 'mix'), item('ErratumPushItem', 'RHBA-1', 'mix'), item('FilePushItem', 'f.txt', 'mix'), item('DirectoryPushItem', 'tree', 'mix'), item('FilePushItem', 'g.iso', 'one')];
  const r = routeItems(items, c);
  assert.deepEqual(r.assignments.map((a) => `${a.repoId}:${a.item.name}`).sort(), ['mix-files:f.txt', 'mix-files:tree', 'mix-yum:RHBA-1', 'mix-yum:a-1-1.noarch.rpm', 'mix-yum:tree']);
  assert.deepEqual(r.repos.map((x) => x.id), ['mix-files', 'mix-yum', 'only-yum']);
  // A destination of one repository keeps refusing what it cannot hold, naming it.
  assert.deepEqual(r.problems.map((p) => `${p.code} ${p.entry}`), ['PUSH_TYPE_NOT_HELD g.iso']);
  assert.match(r.problems[0]!.message, /cannot go to repository only-yum/);
  // An importer that holds neither: the item is refused once, naming every repository of the destination.
  const none = routeItems([item('RpmPushItem', 'b-1-1.noarch.rpm', 'mix')], c, { importerTypes: { yum_importer: ['erratum'], iso_importer: ['iso'] } });
  assert.equal(none.assignments.length, 0);
  assert.deepEqual(none.problems.map((p) => `${p.code} ${p.entry}`), ['PUSH_TYPE_NOT_HELD b-1-1.noarch.rpm']);
  assert.match(none.problems[0]!.message, /any repository of destination mix: mix-files \(file repository.*; mix-yum \(yum repository/);
});

test('routing: CGW and cloud images are refused by a repository the directory distributor publishes (RAW-only), naming it; a destination also declared for an export repository gives them to that one', () => {
  const c = parseConfigText('repositories:\n  ks: {type: directory, destinations: [ks, both]}\n  both-export: {type: directory, destinations: [both], distributors: [{type_id: export_distributor}]}\n', '/c');
  const items = [item('DirectoryPushItem', 'ks', 'ks'), item('CGWPushItem', 'gw.yaml', 'ks'), item('AmiPushItem', 'img.raw', 'ks'), item('DirectoryPushItem', 'both', 'both'), item('CGWPushItem', 'gw2.yaml', 'both')];
  const importerTypes = { generic_importer: ['cgw', 'ami', 'vhd', 'directory'] };
  const r = routeItems(items, c, { importerTypes });
  assert.deepEqual(r.problems.map((p) => `${p.code} ${p.entry}`), ['PUSH_TYPE_NOT_HELD gw.yaml', 'PUSH_TYPE_NOT_HELD img.raw']);
  assert.match(r.problems[0]!.message, /cannot go to repository ks \(directory repository published by directory_distributor, which publishes RAW trees only\)/);
  assert.deepEqual(r.assignments.map((a) => `${a.repoId}:${a.item.name}`).sort(), ['both-export:both', 'both-export:gw2.yaml', 'ks:both', 'ks:ks']);
  // The repository as it exists counts too: one given a directory distributor outside the configuration.
  const e = parseConfigText('repositories:\n  gw: {type: directory, distributors: [{type_id: export_distributor}]}\n', '/c');
  const gw = [item('CGWPushItem', 'gw.yaml', 'gw')];
  assert.deepEqual(routeItems(gw, e, { importerTypes }).problems, []);
  assert.deepEqual(routeItems(gw, e, { importerTypes, existingDistributors: (id) => (id === 'gw' ? ['export_distributor', 'directory_distributor'] : []) }).problems.map((p) => p.code), ['PUSH_TYPE_NOT_HELD']);
});

const rpmUnit = (name: string, v: string, sha: string): PlanUnit => ({
  typeId: 'rpm',
  unitKey: { name, epoch: '0', version: v, release: '1', arch: 'noarch', checksum: sha },
  fingerprint: sha,
  replaceKey: `rpm:${name}-0:${v}-1.noarch`,
  label: `rpm:${name}-0:${v}-1.noarch`,
});
const existingOf = (u: PlanUnit, id: string): ExistingUnit => ({ ...u, id });

function desiredFor(repoId: string, units: PlanUnit[]): DesiredItem[] {
  return units.map((u) => ({ assignment: { index: 0, item: item('RpmPushItem', `${u.unitKey.name}.rpm`, repoId), repoId, dest: repoId, typeId: 'rpm' }, label: u.label, units: [u] }));
}

test('plan: unchanged, pushed, replaced (same NEVRA new sha256), refuse, mirror, retain_old_count', () => {
  const repo = declaredRepos(parseConfigText('repositories:\n  r:\n    type: yum\n', '/c'))[0]!;
  const a1 = rpmUnit('a', '1.0', 'aa');
  const b1 = rpmUnit('b', '1.0', 'bb');
  const c1 = rpmUnit('c', '1.0', 'cc');
  const existing = [existingOf(a1, 'u-a'), existingOf(b1, 'u-b'), existingOf(c1, 'u-c')];
  const b1new = { ...rpmUnit('b', '1.0', 'b2'), replaceKey: b1.replaceKey };
  const d1 = rpmUnit('d', '1.0', 'dd');

  const p = planRepo(repo, desiredFor('r', [a1, b1new, d1]), existing, { bumpErrata: false });
  assert.deepEqual(p.entries.map((e) => `${e.action} ${e.unit}`), ['replaced rpm:b-0:1.0-1.noarch', 'pushed rpm:d-0:1.0-1.noarch', 'unchanged rpm:a-0:1.0-1.noarch']);
  assert.deepEqual(p.removals.map((r) => r.id), ['u-b']);
  assert.equal(p.changed, true);

  const same = planRepo(repo, desiredFor('r', [a1, b1, c1]), existing, { bumpErrata: false });
  assert.equal(same.changed, false);
  assert.ok(same.entries.every((e) => e.action === 'unchanged'));

  const refuse = planRepo({ ...repo, duplicateNevra: 'refuse' }, desiredFor('r', [b1new]), existing, { bumpErrata: false });
  assert.equal(refuse.problems[0]!.code, 'PUSH_DUPLICATE_NEVRA');
  assert.equal(refuse.changed, false);

  const mirror = planRepo({ ...repo, pushMode: 'mirror' }, desiredFor('r', [a1]), existing, { bumpErrata: false });
  assert.deepEqual(mirror.entries.map((e) => `${e.action} ${e.unit}`).sort(), ['removed rpm:b-0:1.0-1.noarch', 'removed rpm:c-0:1.0-1.noarch', 'unchanged rpm:a-0:1.0-1.noarch']);

  // A mirror held back (a destination feeding it was left out by the filters) removes nothing.
  const held = planRepo({ ...repo, pushMode: 'mirror' }, desiredFor('r', [a1]), existing, { bumpErrata: false, mirrorHeld: 'd2 left out' });
  assert.deepEqual(held.entries.map((e) => `${e.action} ${e.unit}`), ['unchanged rpm:a-0:1.0-1.noarch']);
  assert.equal(held.changed, false);

  const olds = ['1.0', '1.2', '1.10'].map((v, i) => existingOf(rpmUnit('x', v, `x${i}`), `x${i}`));
  const retain = planRepo({ ...repo, retainOldCount: 1 }, desiredFor('r', [rpmUnit('x', '2.0', 'x9')]), olds, { bumpErrata: false });
  assert.deepEqual(retain.removals.map((r) => r.unitKey.version).sort(), ['1.0', '1.2']);

  // Several versions staged at once: the older ones beyond retention are not uploaded at all, and
  // pushing the same area again reports the same (unchanged) with nothing to do.
  const x1 = rpmUnit('x', '1.0', 'y1');
  const x2 = rpmUnit('x', '2.0', 'y2');
  const fresh = planRepo({ ...repo, retainOldCount: 0 }, desiredFor('r', [x1, x2]), [], { bumpErrata: false });
  assert.deepEqual(fresh.uploads.map((u) => u.desired.label), ['rpm:x-0:2.0-1.noarch']);
  assert.deepEqual(fresh.entries.map((e) => `${e.action} ${e.unit}`).sort(), ['pushed rpm:x-0:2.0-1.noarch', 'unchanged rpm:x-0:1.0-1.noarch']);
  assert.match(fresh.entries.find((e) => e.action === 'unchanged')!.reason!, /retain_old_count: 0/);
  const again = planRepo({ ...repo, retainOldCount: 0 }, desiredFor('r', [x1, x2]), [existingOf(x2, 'u-x2')], { bumpErrata: false });
  assert.equal(again.changed, false);
  assert.ok(again.entries.every((e) => e.action === 'unchanged'));
  // Staged and already stored, then outnumbered by a newer staged build: its one entry says
  // removed (not unchanged, with a second entry removing the same unit).
  const outgrown = planRepo({ ...repo, retainOldCount: 0 }, desiredFor('r', [x1, x2]), [existingOf(x1, 'u-x1')], { bumpErrata: false });
  assert.deepEqual(outgrown.entries.map((e) => `${e.action} ${e.unit} ${e.unitId ?? ''}`).sort(), ['pushed rpm:x-0:2.0-1.noarch ', 'removed rpm:x-0:1.0-1.noarch u-x1']);
  assert.match(outgrown.entries.find((e) => e.action === 'removed')!.reason!, /retain_old_count: 0/);
  assert.deepEqual(outgrown.removals.map((r) => r.id), ['u-x1']);
});

test('plan: the same unit staged twice for one repository is planned once; a different file of the same NEVRA is not merged into it', () => {
  const repo = declaredRepos(parseConfigText('repositories:\n  r:\n    type: yum\n', '/c'))[0]!;
  const a1 = rpmUnit('a', '1.0', 'aa');
  const b1 = rpmUnit('b', '1.0', 'bb');
  // a.rpm under two destinations that both map to r, b.rpm once: two uploads.
  const twice = [...desiredFor('r', [a1, b1]), ...desiredFor('x', [a1])];
  const p = planRepo(repo, twice, [], { bumpErrata: false });
  assert.deepEqual(p.entries.map((e) => `${e.action} ${e.unit}`), ['pushed rpm:a-0:1.0-1.noarch', 'pushed rpm:b-0:1.0-1.noarch']);
  assert.equal(p.uploads.length, 2);
  // Another label for the same unit: planned on its own (not merged).
  const relabelled = desiredFor('y', [a1]).map((d) => ({ ...d, label: 'rpm:a (again)' }));
  const r = planRepo(repo, [...desiredFor('r', [a1]), ...relabelled, ...desiredFor('z', [a1])], [], { bumpErrata: false });
  assert.equal(r.entries.length, 2);
  assert.equal(r.uploads.length, 2);
  // Another build of the same NEVRA (another sha256): not merged, and not both pushed: each is refused.
  const other = { ...a1, fingerprint: 'a2' };
  const q = planRepo(repo, [...desiredFor('r', [a1]), ...desiredFor('x', [other]), ...desiredFor('z', [a1])], [], { bumpErrata: false });
  assert.deepEqual(q.entries.map((e) => e.action), ['failed', 'failed']);
  assert.equal(q.uploads.length, 0);
  assert.deepEqual(q.problems.map((p) => p.code), ['PUSH_NEVRA_STAGED_TWICE', 'PUSH_NEVRA_STAGED_TWICE']);
});

test('plan: errata merge rule and --bump-errata', () => {
  const repo = declaredRepos(parseConfigText('repositories:\n  r:\n    type: yum\n', '/c'))[0]!;
  const stored: ExistingUnit = { id: 'e1', typeId: 'erratum', unitKey: { id: 'RHSA-1' }, fingerprint: 'old', replaceKey: 'erratum:RHSA-1', label: 'erratum:RHSA-1', updated: '2024-01-01 00:00:00', version: '2' };
  const d: DesiredItem = {
    assignment: { index: 0, item: item('ErratumPushItem', 'RHSA-1', 'r'), repoId: 'r', dest: 'r', typeId: 'erratum' },
    label: 'erratum:RHSA-1',
    units: [{ typeId: 'erratum', unitKey: { id: 'RHSA-1' }, fingerprint: 'new', replaceKey: 'erratum:RHSA-1', label: 'erratum:RHSA-1' }],
    erratum: { decision: 'dropped', updated: '2024-01-01 00:00:00', version: '2', storedUpdated: '2024-01-01 00:00:00', storedVersion: '2' },
  };
  const p = planRepo(repo, [d], [stored], { bumpErrata: false });
  assert.equal(p.entries[0]!.action, 'failed');
  assert.match(p.entries[0]!.reason!, /bump version or updated/);
  assert.equal(p.problems[0]!.code, 'PUSH_ERRATUM_NOT_FORWARD');
  const b = planRepo(repo, [d], [stored], { bumpErrata: true });
  assert.equal(b.entries[0]!.action, 'replaced');
  assert.equal(b.uploads[0]!.bumpVersion, '3');
});

test('rpmvercmp', () => {
  assert.equal(rpmvercmp('1.10', '1.9'), 1);
  assert.equal(rpmvercmp('1.0~rc1', '1.0'), -1);
  assert.equal(rpmvercmp('1.0a', '1.0'), 1);
  assert.equal(rpmvercmp('2', '2'), 0);
  assert.equal(rpmvercmp('1.0^1', '1.0'), 1);
});

test('routing: CGW / cloud images next to RPMs go to a companion export repository when the yum importer cannot hold them', () => {
  const items = [item('RpmPushItem', 'a.rpm', 'mix'), item('CGWPushItem', 'gw.yaml', 'mix'), item('AmiPushItem', 'img.raw', 'cloud')];
  const r = routeItems(items, defaultConfig(), { importerTypes: { yum_importer: ['rpm', 'srpm', 'erratum'], generic_importer: ['cgw', 'ami', 'vhd', 'directory'] } });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.repos.map((x) => `${x.id}:${x.importer.typeId}:${x.distributors.map((d) => d.typeId).join('+')}`), [
    'cloud:generic_importer:export_distributor',
    'mix:yum_importer:yum_distributor',
    'mix-export:generic_importer:export_distributor',
  ]);
  assert.deepEqual(r.assignments.map((a) => `${a.repoId}:${a.item.name}`).sort(), ['cloud:img.raw', 'mix-export:gw.yaml', 'mix:a.rpm']);
});

test('routing: with unknown_destination naming a yum template, the companion export repository is still the directory kind (generic importer, export distributor), not made from that template', () => {
  const c = parseConfigText('unknown_destination: template:mt\ntemplates:\n  mt: {template: yum, display_name: from mt}\n', 'c.yaml');
  const items = [item('RpmPushItem', 'a.rpm', 'mix'), item('CGWPushItem', 'gw.yaml', 'mix')];
  const r = routeItems(items, c, { importerTypes: { yum_importer: ['rpm', 'srpm', 'erratum'], generic_importer: ['cgw', 'ami', 'vhd', 'directory'] } });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.repos.map((x) => `${x.id}:${x.origin}:${x.importer.typeId}:${x.distributors.map((d) => d.typeId).join('+')}`), ['mix:template:mt:yum_importer:yum_distributor', 'mix-export:auto_create:generic_importer:export_distributor']);
  assert.deepEqual(r.assignments.map((a) => `${a.repoId}:${a.item.name}`).sort(), ['mix-export:gw.yaml', 'mix:a.rpm']);
});

test('canonicalJson: sorted keys at every depth, undefined members left out, the same text for the same value', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }, null, 'x'], z: undefined }), '{"a":[{"c":2,"d":1},null,"x"],"b":1}');
  assert.equal(canonicalJson({}), '{}');
  assert.equal(canonicalJson([]), '[]');
  assert.equal(canonicalJson(undefined), 'null');
  assert.equal(canonicalJson('a"b'), '"a\\"b"');
  assert.equal(canonicalJson({ 'k"ey': { y: true, x: 1.5 } }), '{"k\\"ey":{"x":1.5,"y":true}}');
  const a = { name: 'n', epoch: '0', version: '1', release: '1', arch: 'noarch', checksum: 'c' };
  const b = { checksum: 'c', arch: 'noarch', release: '1', version: '1', epoch: '0', name: 'n' };
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.deepEqual(JSON.parse(canonicalJson(b)), a);
});

test('keyOf: a package key written directly is the canonical JSON of the key; other keys go through canonicalJson', () => {
  const keys: Array<Record<string, unknown>> = [
    { name: 'a"b', epoch: '0', version: '1.0', release: '1\u00e9', arch: 'noarch', checksum: 'ab'.repeat(32) },
    { checksum: 'x', arch: 'x86_64', release: '2', version: '3', epoch: '1', name: 'z' },
    { name: 'a', epoch: 0, version: '1', release: '1', arch: 'noarch', checksum: 'c' },
    { name: 'a', epoch: '0', version: '1', release: '1', arch: 'noarch', checksum: 'c', extra: 'x' },
    { name: 'a', epoch: '0', version: '1', release: '1', arch: 'noarch', checksum: 'c', extra: undefined },
    { name: 'a', epoch: '0', version: '1', release: '1', arch: 'noarch' },
  ];
  for (const unitKey of keys) assert.equal(keyOf({ typeId: 'rpm', unitKey }), `rpm\u0000${canonicalJson(unitKey)}`);
});
