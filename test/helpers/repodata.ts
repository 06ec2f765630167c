/** Test helpers of the repodata codecs: command runs, file mtimes, comparable package entries. */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';

export function mtimeSeconds(file: string): number {
  return Math.floor(statSync(file).mtimeMs / 1000);
}

/** Run a command, throwing with its stderr on failure. */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, input: opts.input, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A comparable view of a repodata package entry: absent strings as "", file mtime left out. */
export function comparable(p: import('../../src/formats/repodata/index.js').RepodataPackage): Record<string, unknown> {
  const s = (v: string | null | undefined) => v ?? '';
  const dep = (d: import('../../src/formats/repodata/index.js').RepodataDep, req: boolean) => ({
    name: d.name,
    flags: s(d.flags),
    epoch: d.flags ? s(d.epoch) : '',
    version: d.flags ? s(d.version) : '',
    release: d.flags ? s(d.release) : '',
    ...(req ? { pre: !!d.pre } : {}),
  });
  return {
    nevra: `${p.name}-${p.epoch}:${p.version}-${p.release}.${p.arch}`,
    pkgid: p.pkgid,
    checksumType: p.checksumType,
    summary: s(p.summary),
    description: s(p.description),
    packager: s(p.packager),
    url: s(p.url),
    timeBuild: p.timeBuild,
    sizePackage: p.sizePackage,
    sizeInstalled: p.sizeInstalled,
    sizeArchive: p.sizeArchive,
    locationHref: p.locationHref,
    locationBase: s(p.locationBase),
    license: s(p.license),
    vendor: s(p.vendor),
    group: s(p.group),
    buildhost: s(p.buildhost),
    sourcerpm: s(p.sourcerpm),
    headerRange: [p.headerStart, p.headerEnd],
    provides: p.provides.map((d) => dep(d, false)),
    requires: p.requires.map((d) => dep(d, true)),
    conflicts: p.conflicts.map((d) => dep(d, false)),
    obsoletes: p.obsoletes.map((d) => dep(d, false)),
    suggests: p.suggests.map((d) => dep(d, false)),
    enhances: p.enhances.map((d) => dep(d, false)),
    recommends: p.recommends.map((d) => dep(d, false)),
    supplements: p.supplements.map((d) => dep(d, false)),
    files: p.files,
    changelogs: p.changelogs,
  };
}
