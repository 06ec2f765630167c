import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import type { Problem } from '../../src/errors.js';
import { tempDir } from './cli.js';

export type Spec = string | Buffer | { symlink: string } | { fifo: true } | { dir: true };

/** Build a staging layout under a fresh temp dir: keys are relative paths. Returns the root. */
export function stage(files: Record<string, Spec>, root = tempDir('stagepush-staged-')): string {
  for (const [rel, spec] of Object.entries(files)) {
    const p = path.join(root, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    if (typeof spec === 'string' || Buffer.isBuffer(spec)) writeFileSync(p, spec);
    else if ('symlink' in spec) symlinkSync(spec.symlink, p);
    else if ('fifo' in spec) execFileSync('mkfifo', [p]);
    else mkdirSync(p, { recursive: true });
  }
  return root;
}

/** A staged.yaml document from entries. */
export function stagedYaml(entries: unknown[]): string {
  return JSON.stringify({ header: { version: '0.2' }, payload: { files: entries } }, null, 1);
}

/** A product certificate made by openssl, with the given product extensions. */
export function productCert(dir: string, exts: Record<string, string>): string {
  const key = path.join(dir, `key-${Math.random().toString(36).slice(2)}.pem`);
  const out = path.join(dir, `cert-${Math.random().toString(36).slice(2)}.pem`);
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', out, '-days', '1', '-subj', '/CN=Test Product'];
  for (const [oid, value] of Object.entries(exts)) args.push('-addext', `${oid}=ASN1:UTF8String:${value}`);
  execFileSync('openssl', args, { stdio: 'pipe' });
  return out;
}

export const ERRATUM = {
  id: 'RHSA-2020:0509',
  type: 'RHSA',
  release: 0,
  status: 'final',
  pushcount: 3,
  reboot_suggested: false,
  rights: 'Copyright 2020 Red Hat Inc',
  title: 'Important: sudo security update',
  from: 'release-engineering@redhat.com',
  description: 'The sudo packages...',
  version: 3,
  updated: '2020-02-13 19:00:11 UTC',
  issued: '2020-02-13 19:00:11 UTC',
  severity: 'Important',
  summary: 'An update for sudo',
  solution: 'Apply it',
  references: [
    { href: 'https://access.redhat.com/errata/RHSA-2020:0509', id: null, title: null, type: 'self' },
    { href: 'https://bugzilla.redhat.com/show_bug.cgi?id=1796944', id: 1796944, title: 'CVE-2019-18634', type: 'bugzilla' },
  ],
  pkglist: [
    { name: 'empty', short: '', packages: [] },
    {
      name: 'RHSA-2020:0509',
      short: '',
      packages: [
        {
          arch: 'SRPMS',
          epoch: '0',
          filename: 'sudo-1.8.25p1-4.el8_0.3.src.rpm',
          name: 'sudo',
          release: '4.el8_0.3',
          src: 'sudo-1.8.25p1-4.el8_0.3.src.rpm',
          version: '1.8.25p1',
          sum: ['md5', 'F94AB3724B498E3FEAB643FE2A67C9C0', 'sha256', '10d7724302a60d0d2ca890fc7834b8143df55ba1ce0176469ea634ac4ab7aa28'],
        },
      ],
    },
  ],
  cdn_repo: ['ignored'],
};

export const AMI_ATTRS = {
  release: { product: 'Fake-Product', date: '20200511', arch: 'x86_64', respin: 1, version: 'Fake-Version', variant: 'Fake-Variant', type: 'ga' },
  region: 'cn-north-1',
  type: 'access',
  virtualization: 'hvm',
  volume: 'gp2',
  root_device: '/dev/sda1',
  description: 'A sample image for testing',
  sriov_net_support: 'simple',
  ena_support: true,
  billing_codes: { name: 'FakeBcName', codes: ['bp-1234', 'bp-abcd'] },
  public_image: true,
  release_notes: 'fake release notes',
  usage_instructions: 'fake usage instructions',
  recommended_instance_type: 't2.micro',
  marketplace_entity_type: 'AMIProduct',
  scanning_port: 1244,
  user_name: 'Fake-Username',
  version_title: 'Fake-Version-Title',
  security_groups: [{ from_port: 0, ip_protocol: 'Fake-Protocol', ip_ranges: ['22.22.22.22'], to_port: 1 }],
};

/** Assert that `list` holds a problem matching every given property (message: exact or RegExp). */
export function hasProblem(list: Problem[], want: { code?: string; file?: string; entry?: string; field?: string; message?: RegExp | string }) {
  const ok = list.some(
    (p) =>
      (want.code === undefined || p.code === want.code) &&
      (want.file === undefined || p.file === want.file) &&
      (want.entry === undefined || p.entry === want.entry) &&
      (want.field === undefined || p.field === want.field) &&
      (want.message === undefined || (want.message instanceof RegExp ? want.message.test(p.message) : p.message === want.message)),
  );
  assert.ok(ok, `expected problem ${JSON.stringify({ ...want, message: String(want.message) })} in ${JSON.stringify(list, null, 1)}`);
}
