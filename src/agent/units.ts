/**
 * Content unit specs given on the command line. An rpm UNIT is
 * `name[-[epoch:]version-release[.arch]]` (version starts with a digit); other types take the
 * unit's name.
 *
 * The characters are rpm's own (build/rpmbuild_internal.h): a name starts with a letter, a digit
 * or "_" and holds letters, digits and `. - _ +`; a version and a release hold letters, digits and
 * `. _ + ~ ^`. Anything else is refused before a handler runs: the specs are passed to dnf, and a
 * unit such as `--nogpgcheck` or `--setopt=gpgcheck=0` would be read by dnf as an option (and
 * install unsigned packages).
 */
import { StagepushError } from '../errors.js';
import type { ContentUnitSpec } from './handler.js';

export const RPM_ARCHES = [
  'noarch', 'x86_64', 'i386', 'i486', 'i586', 'i686', 'aarch64', 'armv7hl', 'armv7hnl', 'armv6hl', 'ppc64le', 'ppc64', 'ppc', 's390x', 's390', 'riscv64', 'src', 'nosrc',
];
const NAME = '[A-Za-z0-9_][A-Za-z0-9._+-]*?';
const VERREL = '[A-Za-z0-9._+~^]';
const RPM_UNIT_RE = new RegExp(
  `^(?<name>${NAME})(?:-(?:(?<epoch>\\d+):)?(?<version>\\d${VERREL}*)-(?<release>${VERREL}+?)(?:\\.(?<arch>${RPM_ARCHES.join('|')}))?)?$`,
);

export function parseRpmUnit(spec: string): ContentUnitSpec {
  const m = RPM_UNIT_RE.exec(spec.trim());
  if (!m || !m.groups) {
    const why = spec.trim().startsWith('-') ? ' (it starts with "-": a unit is never a dnf option)' : '';
    throw new StagepushError('AGENT_BAD_UNIT', `rpm unit "${spec}": expected name[-[epoch:]version-release[.arch]]${why}`, { kind: 'usage', field: 'UNIT' });
  }
  const g = m.groups;
  const out: Record<string, string> = { name: g.name! };
  if (g.version !== undefined) {
    if (g.epoch !== undefined) out.epoch = g.epoch;
    out.version = g.version;
    out.release = g.release!;
    if (g.arch !== undefined) out.arch = g.arch;
  }
  return out;
}

/**
 * Back to dnf's NEVRA spec form. Units reach a handler from other callers than the command line
 * (the consumer service takes unit objects): the spec made is checked against the same grammar, so
 * no field can make it a dnf option.
 */
export function rpmSpecString(u: ContentUnitSpec): string {
  if (!u.name) throw new StagepushError('AGENT_BAD_UNIT', 'rpm unit without a name', { kind: 'usage' });
  const spec = !u.version
    ? u.name + (u.arch ? `.${u.arch}` : '')
    : `${u.name}-${u.epoch && u.epoch !== '0' ? `${u.epoch}:` : ''}${u.version}${u.release ? `-${u.release}` : ''}${u.arch ? `.${u.arch}` : ''}`;
  if (!RPM_UNIT_RE.test(spec)) {
    const why = spec.startsWith('-') ? ' (it starts with "-": a unit is never a dnf option)' : '';
    throw new StagepushError('AGENT_BAD_UNIT', `rpm unit ${JSON.stringify(u)}: "${spec}" is not name[-[epoch:]version-release[.arch]]${why}`, { kind: 'usage', field: 'UNIT' });
  }
  return spec;
}

export function parseUnit(typeId: string, spec: string): ContentUnitSpec {
  if (typeId === 'rpm' || typeId === 'srpm') return parseRpmUnit(spec);
  const s = spec.trim();
  if (!s) throw new StagepushError('AGENT_BAD_UNIT', `${typeId} unit: empty name`, { kind: 'usage', field: 'UNIT' });
  return { name: s };
}

/** `--option k=v` values into an options object. */
export function parseOptions(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new StagepushError('AGENT_BAD_OPTION', `--option "${p}": expected key=value`, { kind: 'usage', field: '--option' });
    out[p.slice(0, eq).trim()] = p.slice(eq + 1);
  }
  return out;
}
