import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  amiPushItem,
  directoryPushItem,
  erratumPushItem,
  filePushItem,
  productIdPushItem,
  rpmPushItem,
  vhdPushItem,
  toPushsourceShape,
  ITEM_KINDS,
} from '../../src/items/index.js';
import { StagepushError } from '../../src/errors.js';

const BASE = ['name', 'state', 'src', 'dest', 'md5sum', 'sha256sum', 'origin', 'build', 'build_info', 'signing_key'];

function throwsField(fn: () => unknown, field: string, re: RegExp, code = 'ITEM_FIELD_INVALID') {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StagepushError, String(e));
    assert.equal(e.code, code);
    assert.equal(e.field, field);
    assert.match(e.message, re);
    return true;
  });
}

test('base fields: defaults, order, kind not printed', () => {
  const it = rpmPushItem({ name: 'a.rpm' });
  assert.deepEqual(Object.keys(toPushsourceShape(it).RpmPushItem!), [...BASE, 'module_build']);
  assert.deepEqual(toPushsourceShape(it), {
    RpmPushItem: { name: 'a.rpm', state: 'PENDING', src: null, dest: [], md5sum: null, sha256sum: null, origin: null, build: null, build_info: null, signing_key: null, module_build: null },
  });
  assert.equal(it.kind, 'RpmPushItem');
  assert.equal(ITEM_KINDS.length, 10);
});

test('checksums are lower-cased and checked for length and hex digits', () => {
  const it = filePushItem({ name: 'f', md5sum: 'D41D8CD98F00B204E9800998ECF8427E', sha256sum: 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855' });
  assert.equal(it.md5sum, 'd41d8cd98f00b204e9800998ecf8427e');
  assert.equal(it.sha256sum, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  throwsField(() => filePushItem({ name: 'f', md5sum: 'abc' }), 'md5sum', /wrong length of 'abc' \(expected: 32\)/);
  throwsField(() => filePushItem({ name: 'f', md5sum: 'z'.repeat(32) }), 'md5sum', /can't parse/);
  throwsField(() => filePushItem({ name: 'f', sha256sum: 12 }), 'sha256sum', /can't parse 12 as a hex string/);
});

test('signing_key is upper-cased; build gives build_info from the NVR', () => {
  const it = rpmPushItem({ name: 'x', signing_key: 'fd431d51', build: 'my-pkg-1.2-3.el9' });
  assert.equal(it.signing_key, 'FD431D51');
  assert.deepEqual(it.build_info, { name: 'my-pkg', version: '1.2', release: '3.el9', id: null });
  throwsField(() => rpmPushItem({ name: 1 }), 'name', /must be a string/);
  throwsField(() => rpmPushItem({} as { name: unknown }), 'name', /requires 'name'/, 'ITEM_FIELD_MISSING');
  throwsField(() => rpmPushItem({ name: 'x', bogus: 1 } as { name: unknown }), 'bogus', /no field 'bogus'/, 'ITEM_FIELD_UNKNOWN');
});

test('display_order: float conversion and the ±99999 range (NaN fails)', () => {
  assert.equal(filePushItem({ name: 'f', display_order: 3 }).display_order, 3);
  assert.equal(filePushItem({ name: 'f', display_order: '-1.5' }).display_order, -1.5);
  assert.equal(filePushItem({ name: 'f', display_order: 99999 }).display_order, 99999);
  throwsField(() => filePushItem({ name: 'f', display_order: 100000 }), 'display_order', /within range -99999 \.\. 99999/);
  throwsField(() => filePushItem({ name: 'f', display_order: 'nan' }), 'display_order', /within range/);
  throwsField(() => filePushItem({ name: 'f', display_order: 'abc' }), 'display_order', /could not convert/);
  assert.deepEqual(Object.keys(toPushsourceShape(filePushItem({ name: 'f' })).FilePushItem!).slice(10), ['description', 'version', 'display_order']);
});

test('erratum: defaults, type mapping, int2str, field order', () => {
  const e = erratumPushItem({ name: 'RHBA-1' });
  assert.equal(e.type, 'bugfix');
  assert.equal(e.release, '0');
  assert.equal(e.status, 'final');
  assert.equal(e.pushcount, '1');
  assert.equal(e.version, '1');
  assert.equal(e.reboot_suggested, false);
  assert.deepEqual(Object.keys(toPushsourceShape(e).ErratumPushItem!).slice(10), [
    'type', 'release', 'status', 'pushcount', 'reboot_suggested', 'references', 'pkglist', 'container_list', 'from', 'rights', 'title',
    'description', 'version', 'updated', 'issued', 'severity', 'summary', 'solution', 'content_types',
  ]);
  assert.equal(erratumPushItem({ name: 'x', type: 'RHBA' }).type, 'bugfix');
  assert.equal(erratumPushItem({ name: 'x', type: 'RHEA' }).type, 'enhancement');
  assert.equal(erratumPushItem({ name: 'x', type: 'RHSA' }).type, 'security');
  throwsField(() => erratumPushItem({ name: 'x', type: 'RHXA' }), 'type', /must be in \['bugfix', 'security', 'enhancement'\]/);
  const e2 = erratumPushItem({
    name: 'x',
    release: 4,
    pushcount: 2,
    version: 7,
    references: [{ href: 'h', id: 12, title: null }],
    pkglist: [{ packages: [{ arch: 'x86_64', filename: 'a.rpm', epoch: 0, name: 'a', version: '1', release: '1', src: 'a.src.rpm', md5sum: 'A'.repeat(32) }] }],
    container_list: [{ b: 1, a: { z: 1, y: 2 } }],
  });
  assert.equal(e2.release, '4');
  assert.equal(e2.pushcount, '2');
  assert.equal(e2.version, '7');
  assert.deepEqual(e2.references, [{ href: 'h', id: '12', title: null, type: 'other' }]);
  assert.deepEqual(e2.pkglist, [
    {
      name: '',
      packages: [{ arch: 'x86_64', filename: 'a.rpm', epoch: '0', name: 'a', version: '1', release: '1', src: 'a.src.rpm', reboot_suggested: false, md5sum: 'a'.repeat(32), sha1sum: null, sha256sum: null }],
      short: '',
      module: null,
    },
  ]);
  assert.deepEqual(JSON.stringify(e2.container_list), JSON.stringify([{ a: { y: 2, z: 1 }, b: 1 }]));
  throwsField(() => erratumPushItem({ name: 'x', pkglist: [{ packages: [{ arch: 'x' }] }] }), 'pkglist[0].packages[0].filename', /requires 'filename'/, 'ITEM_FIELD_MISSING');
});

test('AMI: release type, dates, boot mode, field order; description required', () => {
  const a = amiPushItem({
    name: 'img.raw',
    description: 'd',
    release: { product: 'RHEL', date: '20200511', arch: 'x86_64', respin: 1 },
    boot_mode: 'hybrid',
    billing_codes: { name: 'Hourly2', codes: ['bp-1'] },
  });
  assert.deepEqual(a.release, { product: 'RHEL', date: '2020-05-11', arch: 'x86_64', respin: 1, version: null, base_product: null, base_version: null, variant: null, type: null });
  assert.equal(amiPushItem({ name: 'x', description: 'd', release: { product: 'p', date: '2021-1-2', arch: 'a', respin: 0 } }).release!.date, '2021-01-02');
  assert.deepEqual(Object.keys(toPushsourceShape(a).AmiPushItem!).slice(10), [
    'release', 'description', 'boot_mode', 'cloud_info', 'marketplace_title_template', 'marketplace_name', 'type', 'region', 'virtualization',
    'volume', 'root_device', 'sriov_net_support', 'ena_support', 'uefi_support', 'billing_codes', 'release_notes', 'usage_instructions',
    'recommended_instance_type', 'marketplace_entity_type', 'image_id', 'public_image', 'scanning_port', 'user_name', 'version_title',
    'security_groups', 'access_endpoint_url',
  ]);
  throwsField(() => amiPushItem({ name: 'x' }), 'description', /a string is required/, 'ITEM_FIELD_MISSING');
  throwsField(() => amiPushItem({ name: 'x', description: 'd', boot_mode: 'bios' }), 'boot_mode', /not a valid BootMode/);
  throwsField(() => amiPushItem({ name: 'x', description: 'd', release: { product: 'p', date: '2020-13-01', arch: 'a', respin: 0 } }), 'release.date', /can't parse '2020-13-01' as a date/);
  throwsField(() => amiPushItem({ name: 'x', description: 'd', release: { product: 'p', date: '20200101', arch: 'a', respin: 1.5 } }), 'release.respin', /must be an integer/);
  throwsField(() => amiPushItem({ name: 'x', description: 'd', scanning_port: 1.5 }), 'scanning_port', /must be an integer/);
});

test('VHD: generation, legacy_sku_id needs support_legacy, disk_version pattern, sorted sizes', () => {
  const v = vhdPushItem({ name: 'x.vhd', description: 'd', recommended_sizes: ['b', 'a'], disk_version: '1.0.0' });
  assert.equal(v.generation, 'V2');
  assert.equal(v.support_legacy, false);
  assert.deepEqual(v.recommended_sizes, ['a', 'b']);
  assert.deepEqual(Object.keys(toPushsourceShape(v).VHDPushItem!).slice(16), ['generation', 'sku_id', 'support_legacy', 'legacy_sku_id', 'disk_version', 'recommended_sizes', 'sas_uri']);
  throwsField(() => vhdPushItem({ name: 'x', description: 'd', legacy_sku_id: 'sku' }), 'legacy_sku_id', /support_legacy is false/);
  assert.equal(vhdPushItem({ name: 'x', description: 'd', legacy_sku_id: 'sku', support_legacy: true }).legacy_sku_id, 'sku');
  throwsField(() => vhdPushItem({ name: 'x', description: 'd', disk_version: '1.0' }), 'disk_version', /must match/);
  assert.equal(vhdPushItem({ name: 'x', description: 'd', disk_version: '1.2.*' }).disk_version, '1.2.*');
  throwsField(() => vhdPushItem({ name: 'x', description: 'd', generation: 'V3' }), 'generation', /V1', 'V2'/);
});

test('productid and directory items', () => {
  const p = productIdPushItem({ name: 'c.pem', products: [{ id: 69, name: 'RHEL', version: '6.10', architecture: 'x86_64', provided_tags: 'rhel-6,rhel-6-server' }] });
  assert.deepEqual(p.products, [{ id: 69, name: 'RHEL', version: '6.10', architecture: ['x86_64'], provided_tags: ['rhel-6', 'rhel-6-server'] }]);
  const d = directoryPushItem({ name: 'dest', src: '/x/dest/RAW', dest: ['dest'] });
  assert.equal(d.origin, null);
});

test('every field error of an item is reported, not only the first (nested objects and lists too)', () => {
  assert.throws(
    () =>
      amiPushItem({
        name: 'x',
        boot_mode: 'bios',
        release: { product: 'p', date: '2020-13-01', arch: 'a', respin: 1.5 },
        scanning_port: 1.5,
      } as Parameters<typeof amiPushItem>[0]),
    (e: unknown) => {
      assert.ok(e instanceof StagepushError);
      // The first in field order is the error's own code, field and message (as before).
      assert.equal(e.field, 'release.date');
      assert.deepEqual(
        e.problems.map((p) => `${p.code} ${p.field}`),
        ['ITEM_FIELD_INVALID release.date', 'ITEM_FIELD_INVALID release.respin', 'ITEM_FIELD_MISSING description', 'ITEM_FIELD_INVALID boot_mode', 'ITEM_FIELD_INVALID scanning_port'],
      );
      return true;
    },
  );
  assert.throws(
    () => erratumPushItem({ name: 'E-1', type: 'weird', reboot_suggested: 'perhaps', references: [{ href: 1 }, 'x'] } as Parameters<typeof erratumPushItem>[0]),
    (e: unknown) => {
      assert.ok(e instanceof StagepushError);
      assert.deepEqual(e.problems.map((p) => p.field), ['type', 'reboot_suggested', 'references[0].href', 'references[0].id', 'references[0].title', 'references[1]']);
      return true;
    },
  );
  // One error: no list (as before).
  assert.throws(() => erratumPushItem({ name: 'E-1', type: 'weird' }), (e: unknown) => e instanceof StagepushError && e.field === 'type' && e.problems.length === 0);
});
