/**
 * A feed's metadata is read by its actual compression (gzip, xz, bzip2, zstd: what createrepo_c
 * and modifyrepo_c write and dnf reads), and metadata that cannot be read fails the sync (exit 6,
 * the repository unchanged) instead of being read as an empty repository: an xz primary read as
 * raw bytes gave no packages, and with remove_missing removed every package.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { decompressMetadata } from '../../../src/plugins/yum/decompress.js';
import { StagepushError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/cli.js';
import { Engine, RPMS, matrix, modulemdYaml, productCert, sha256File } from '../../helpers/yum.js';

const UPDATEINFO = `<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="release@example.com" status="final" type="bugfix" version="1">
    <id>RHBA-2024:0200</id>
    <title>hello bug fix</title>
    <issued date="2024-03-01 00:00:00"/>
    <updated date="2024-03-02 00:00:00"/>
    <summary>hello</summary>
    <description>fixes</description>
    <pkglist>
      <collection short="c1">
        <name>col1</name>
        <package name="hello" version="1.1" release="1" epoch="0" arch="noarch" src="hello-1.1-1.src.rpm">
          <filename>hello-1.1-1.noarch.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
</updates>
`;

function run(cmd: string, args: string[], input?: Buffer): Buffer {
  const r = spawnSync(cmd, args, { input });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr?.toString()}`);
  return r.stdout;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const files = Object.values(matrix().install).map((x) => path.join(RPMS, x.file));
const cert = productCert();

/** A createrepo_c repository of the three packages with updateinfo, modules and productid, compressed with `type`. */
function feed(type: 'gz' | 'xz' | 'bz2'): string {
  const dir = tempDir();
  mkdirSync(path.join(dir, 'Packages'));
  for (const f of files) cpSync(f, path.join(dir, 'Packages', path.basename(f)));
  const md = tempDir();
  writeFileSync(path.join(md, 'updateinfo.xml'), UPDATEINFO);
  writeFileSync(path.join(md, 'modules.yaml'), modulemdYaml());
  cpSync(cert, path.join(md, 'productid'));
  run('createrepo_c', ['--no-database', `--general-compress-type=${type}`, dir]);
  for (const [mdtype, name] of [['updateinfo', 'updateinfo.xml'], ['modules', 'modules.yaml'], ['productid', 'productid']]) {
    run('modifyrepo_c', [`--mdtype=${mdtype}`, `--compress-type=${type}`, path.join(md, name), path.join(dir, 'repodata')]);
  }
  return dir;
}

function record(dir: string, type: string): { block: string; file: string } {
  const repomd = readFileSync(path.join(dir, 'repodata', 'repomd.xml'), 'utf8');
  const block = new RegExp(`<data type="${type}">[\\s\\S]*?</data>`).exec(repomd)![0];
  return { block, file: path.join(dir, /<location href="([^"]+)"/.exec(block)![1]!) };
}

/** Replace a record's file by `data` named `name` (repomd.xml's checksum, size and location follow). */
function replaceRecord(dir: string, type: string, data: Buffer, name: string): void {
  const repomdPath = path.join(dir, 'repodata', 'repomd.xml');
  const { block, file } = record(dir, type);
  rmSync(file);
  writeFileSync(path.join(dir, 'repodata', name), data);
  const next = block
    .replace(/<checksum type="[^"]+">[^<]*<\/checksum>/, `<checksum type="sha256">${sha256(data)}</checksum>`)
    .replace(/<location href="[^"]+"/, `<location href="repodata/${name}"`)
    .replace(/<size>\d+<\/size>/, `<size>${data.length}</size>`);
  writeFileSync(repomdPath, readFileSync(repomdPath, 'utf8').replace(block, next));
}

/** A gz feed whose records are recompressed with zstd (Debian's createrepo_c 0.17 has no zstd). */
function zstdFeed(): string {
  const dir = feed('gz');
  for (const type of ['primary', 'filelists', 'other', 'updateinfo', 'modules', 'productid']) {
    const { file } = record(dir, type);
    replaceRecord(dir, type, run('zstd', ['-c', '-q'], gunzipSync(readFileSync(file))), `${path.basename(file).replace(/\.gz$/, '')}.zst`);
  }
  return dir;
}

function units(eng: Engine, repo: string): any[] {
  return eng.json<any[]>(['content', 'list', '--repo', repo]);
}

describe('yum sync: metadata by its actual compression', () => {
  const eng = new Engine();

  for (const [type, make] of [
    ['gz', () => feed('gz')],
    ['xz', () => feed('xz')],
    ['bz2', () => feed('bz2')],
    ['zstd', zstdFeed],
  ] as const) {
    test(`${type}: packages, errata, modules and the plain productid`, () => {
      const dir = make();
      eng.run(['repo', 'create', `c-${type}`, '--importer', 'yum_importer', '--importer-config', `feed=file://${dir}/`]);
      const report = eng.json<any>(['repo', 'sync', `c-${type}`]);
      const list = units(eng, `c-${type}`);
      const of = (t: string) => list.filter((u) => u.typeId === t);
      assert.deepEqual(of('rpm').map((u) => u.unitKey.checksum).sort(), files.map(sha256File).sort(), JSON.stringify(report));
      assert.deepEqual(of('erratum').map((u) => u.unitKey.id), ['RHBA-2024:0200']);
      assert.equal(of('modulemd').length, 1);
      const pid = of('yum_repo_metadata_file');
      assert.equal(pid.length, 1);
      assert.equal(readFileSync(pid[0].storagePath, 'utf8'), readFileSync(cert, 'utf8'), 'productid stored decompressed');
    });
  }

  /** A repository synced from a good feed, then pointed (remove_missing) at `bad`: exit 6, nothing changed. */
  function refused(name: string, bad: string, code: RegExp, env?: NodeJS.ProcessEnv): string {
    const good = feed('gz');
    eng.run(['repo', 'create', name, '--importer', 'yum_importer', '--importer-config', `feed=file://${good}/`]);
    eng.run(['repo', 'sync', name]);
    const before = units(eng, name).map((u) => u.id).sort();
    const version = eng.json<any>(['repo', 'show', name]).version;
    eng.run(['repo', 'importer', 'update', name, '--importer-config', `feed=file://${bad}/`, '--importer-config', 'remove_missing=true']);
    const r = eng.run(['repo', 'sync', name], { allowFail: true, env });
    assert.equal(r.status, 6, r.stdout + r.stderr);
    assert.match(r.stderr + r.stdout, code);
    assert.deepEqual(units(eng, name).map((u) => u.id).sort(), before, 'the repository is unchanged');
    assert.equal(eng.json<any>(['repo', 'show', name]).version, version);
    return r.stderr + r.stdout;
  }

  const primaryXml = (dir: string): string => gunzipSync(readFileSync(record(dir, 'primary').file)).toString();

  test('a primary cut inside a <package> (a whole gzip file) fails the sync', () => {
    const bad = feed('gz');
    const xml = primaryXml(bad);
    const cut = xml.slice(0, xml.indexOf('<package', xml.indexOf('<package') + 1) + 200);
    replaceRecord(bad, 'primary', gzipSync(cut), 'cut-primary.xml.gz');
    const out = refused('cut', bad, /REPODATA_INVALID/);
    assert.match(out, /cut-primary\.xml\.gz: the document ends inside a <package> element \(truncated\)/);
  });

  test('a primary whose packages="N" differs from the packages it holds fails the sync', () => {
    const bad = feed('gz');
    replaceRecord(bad, 'primary', gzipSync(primaryXml(bad).replace(/packages="3"/, 'packages="4"')), 'count-primary.xml.gz');
    assert.match(refused('count', bad, /REPODATA_INVALID/), /packages="4"> but the file holds 3 packages/);
  });

  test('a primary that is not well formed around its packages fails the sync', () => {
    const bad = feed('gz');
    replaceRecord(bad, 'primary', gzipSync(primaryXml(bad).replace('</metadata>', '')), 'open-primary.xml.gz');
    assert.match(refused('open', bad, /REPODATA_INVALID/), /ends before <\/metadata> \(truncated\)/);
  });

  test('cut compressed bytes (gzip, xz) fail the sync naming the file', () => {
    const gz = feed('gz');
    const gzBytes = readFileSync(record(gz, 'primary').file);
    replaceRecord(gz, 'primary', gzBytes.subarray(0, gzBytes.length >> 1), 'half-primary.xml.gz');
    assert.match(refused('halfgz', gz, /YUM_SYNC_BAD_METADATA/), /half-primary\.xml\.gz: not a readable gzip file/);
    const xz = feed('xz');
    const xzBytes = readFileSync(record(xz, 'updateinfo').file);
    replaceRecord(xz, 'updateinfo', xzBytes.subarray(0, xzBytes.length - 20), 'half-updateinfo.xml.xz');
    assert.match(refused('halfxz', xz, /YUM_SYNC_BAD_METADATA/), /half-updateinfo\.xml\.xz: not a readable xz file/);
  });

  test('a name that says another compression than the bytes fails the sync', () => {
    const bad = feed('gz');
    const xml = primaryXml(bad);
    replaceRecord(bad, 'primary', Buffer.from(xml), 'plain-primary.xml.xz');
    assert.match(refused('named', bad, /YUM_SYNC_BAD_METADATA/), /plain-primary\.xml\.xz: the name says xz, but the file is not compressed/);
  });

  test('an updateinfo cut between two advisories fails the sync (its errata are not removed)', () => {
    const bad = feed('gz');
    const { file } = record(bad, 'updateinfo');
    const xml = gunzipSync(readFileSync(file)).toString();
    replaceRecord(bad, 'updateinfo', gzipSync(xml.slice(0, xml.indexOf('</update>') + '</update>'.length)), 'cut-updateinfo.xml.gz');
    assert.match(refused('cutui', bad, /UPDATEINFO_INVALID/), /ends before <\/updates> \(truncated\)/);
  });

  test('without the command that reads a compression, the sync fails naming the file and the package to install', () => {
    const bad = feed('xz');
    // A PATH without xz: the CLI itself runs from process.execPath.
    const out = refused('notool', bad, /YUM_SYNC_UNSUPPORTED_COMPRESSION/, { PATH: tempDir() });
    assert.match(out, /primary\.xml\.xz: xz-compressed, and the "xz" command that reads it is not installed/);
  });
});

test('decompressMetadata: each compression by its bytes; zchunk refused', async () => {
  const dir = tempDir();
  const text = Buffer.from('<metadata packages="0"/>\n');
  const cases: Array<[string, Buffer]> = [
    ['a.gz', gzipSync(text)],
    ['a.xz', run('xz', ['-c'], text)],
    ['a.bz2', run('bzip2', ['-c'], text)],
    ['a.zst', run('zstd', ['-c', '-q'], text)],
    ['a.xml', text],
    // gzip bytes under a name without a suffix (createrepo_c names the productid record productid.gz; others may not).
    ['a', gzipSync(text)],
  ];
  for (const [name, data] of cases) {
    const f = path.join(dir, name);
    writeFileSync(f, data);
    assert.ok(readFileSync(await decompressMetadata(f, `http://h/repodata/${name}`)).equals(text), name);
  }
  const zck = path.join(dir, 'p.xml.zck');
  writeFileSync(zck, Buffer.concat([Buffer.from('\0ZCK1'), Buffer.alloc(20)]));
  await assert.rejects(decompressMetadata(zck, 'http://h/repodata/p.xml.zck'), (e: StagepushError) => e.code === 'YUM_SYNC_UNSUPPORTED_COMPRESSION' && e.kind === 'failed' && e.file === 'http://h/repodata/p.xml.zck');
});
