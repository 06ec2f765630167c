/**
 * comps.xml: groups, categories, environments and langpacks ⇄ objects (every field dnf/libcomps
 * reads), and a comps.xml writer whose output `dnf group list/info` reads.
 */
import { lazyXmlParser } from '../lazyxml.js';
import { StagepushError } from '../../errors.js';
import { decodeStagedText } from '../yaml/read.js';

export type PackageReqType = 'mandatory' | 'default' | 'optional' | 'conditional';

export interface CompsPackageReq {
  name: string;
  type: PackageReqType;
  /** For conditional packages: the package whose presence triggers this one. */
  requires?: string;
  basearchonly?: boolean;
}

interface Named {
  id: string;
  name: string | null;
  /** xml:lang → translated name. */
  nameTranslations: Record<string, string>;
  description: string | null;
  descriptionTranslations: Record<string, string>;
  displayOrder: number | null;
}

export interface CompsGroup extends Named {
  default: boolean | null;
  uservisible: boolean | null;
  biarchonly: boolean | null;
  langonly: string | null;
  packages: CompsPackageReq[];
}

export interface CompsCategory extends Named {
  groups: string[];
}

export interface CompsEnvironmentOption {
  id: string;
  default: boolean | null;
}

export interface CompsEnvironment extends Named {
  groups: string[];
  options: CompsEnvironmentOption[];
}

export interface CompsLangpack {
  name: string;
  install: string;
}

export interface Comps {
  groups: CompsGroup[];
  categories: CompsCategory[];
  environments: CompsEnvironment[];
  langpacks: CompsLangpack[];
}

type XNode = Record<string, unknown>;

const parser = lazyXmlParser({
  trimValues: true,
  isArray: (name) => ['group', 'category', 'environment', 'name', 'description', 'packagereq', 'groupid', 'match', 'langpacks'].includes(name),
});

function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}
function txt(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return String((v as XNode)['#text'] ?? '');
  return String(v);
}
function attr(n: unknown, name: string): string | undefined {
  if (!n || typeof n !== 'object') return undefined;
  const v = (n as XNode)[`@${name}`];
  return v === undefined ? undefined : String(v);
}

const PKG_TYPES: PackageReqType[] = ['mandatory', 'default', 'optional', 'conditional'];

/**
 * comps.xml bytes as text: UTF-8, a leading byte order mark dropped. libcomps reads comps as UTF-8
 * whatever the XML declaration says (a Latin-1 byte is "not well-formed (invalid token)" to dnf,
 * and no group is read); decoded by Buffer.toString, such a byte became U+FFFD, and the push
 * published text the file does not hold. Refused, naming the byte, its line and column.
 */
function compsText(xml: string | Buffer, file: string): string {
  if (typeof xml === 'string') return xml;
  const d = decodeStagedText(xml);
  if (d.error !== undefined) throw new StagepushError('COMPS_INVALID', `${file}: ${d.error} (libcomps reads comps as UTF-8)`, { file, field: 'encoding' });
  return d.text.replace(/^\uFEFF/, '');
}

export function parseComps(xml: string | Buffer, file = 'comps.xml'): Comps {
  let doc: XNode;
  const text = compsText(xml, file);
  try {
    doc = parser().parse(text, true) as XNode;
  } catch (e) {
    // Unclosed elements at the end are named by the parser (see lazyxml's clearerXmlError).
    throw new StagepushError('COMPS_INVALID', `${file}: not well-formed XML: ${(e as Error).message}`, { file, cause: e });
  }
  const root = doc['comps'];
  if (root === undefined) throw new StagepushError('COMPS_INVALID', `${file}: no <comps> root element`, { file });
  const r = (root && typeof root === 'object' ? root : {}) as XNode;

  const bool = (n: XNode, k: string, where: string): boolean | null => {
    if (n[k] === undefined) return null;
    const v = txt(n[k]).toLowerCase();
    if (v === 'true' || v === '1' || v === 'yes') return true;
    if (v === 'false' || v === '0' || v === 'no') return false;
    throw new StagepushError('COMPS_INVALID', `${file}: ${where}: <${k}> is not true/false: "${txt(n[k])}"`, { file, entry: where, field: k });
  };
  const named = (n: XNode, kind: string): Named => {
    const id = txt(n['id']);
    if (!id) throw new StagepushError('COMPS_INVALID', `${file}: a <${kind}> has no <id>`, { file, field: `${kind}.id` });
    const where = `${kind} ${id}`;
    const tr = (k: string) => {
      let base: string | null = null;
      const t: Record<string, string> = {};
      for (const e of asArray(n[k] as unknown[])) {
        const lang = attr(e, 'xml:lang');
        if (lang) t[lang] = txt(e);
        else base = txt(e);
      }
      return [base, t] as const;
    };
    const [name, nameTranslations] = tr('name');
    const [description, descriptionTranslations] = tr('description');
    let displayOrder: number | null = null;
    if (n['display_order'] !== undefined) {
      const v = txt(n['display_order']);
      if (!/^-?\d+$/.test(v)) throw new StagepushError('COMPS_INVALID', `${file}: ${where}: display_order is not an integer: "${v}"`, { file, entry: where, field: 'display_order' });
      displayOrder = Number(v);
    }
    return { id, name, nameTranslations, description, descriptionTranslations, displayOrder };
  };
  const groupIds = (list: unknown): string[] => asArray((list as XNode | undefined)?.['groupid'] as unknown[]).map(txt);

  const groups = asArray(r['group'] as XNode[]).map((g): CompsGroup => {
    const base = named(g, 'group');
    const where = `group ${base.id}`;
    const packages = asArray((g['packagelist'] as XNode | undefined)?.['packagereq'] as unknown[]).map((p): CompsPackageReq => {
      const type = (attr(p, 'type') ?? 'mandatory') as PackageReqType;
      if (!PKG_TYPES.includes(type)) {
        throw new StagepushError('COMPS_INVALID', `${file}: ${where}: packagereq ${txt(p)} has type "${type}" (expected ${PKG_TYPES.join(', ')})`, { file, entry: where, field: 'packagereq.type' });
      }
      const req: CompsPackageReq = { name: txt(p), type };
      const requires = attr(p, 'requires');
      if (requires) req.requires = requires;
      const bao = attr(p, 'basearchonly');
      if (bao !== undefined) req.basearchonly = bao.toLowerCase() === 'true';
      return req;
    });
    return {
      ...base,
      default: bool(g, 'default', where),
      uservisible: bool(g, 'uservisible', where),
      biarchonly: bool(g, 'biarchonly', where),
      langonly: g['langonly'] !== undefined ? txt(g['langonly']) : null,
      packages,
    };
  });
  const categories = asArray(r['category'] as XNode[]).map((c): CompsCategory => ({ ...named(c, 'category'), groups: groupIds(c['grouplist']) }));
  const environments = asArray(r['environment'] as XNode[]).map((e): CompsEnvironment => {
    const base = named(e, 'environment');
    const options = asArray((e['optionlist'] as XNode | undefined)?.['groupid'] as unknown[]).map((o) => {
      const d = attr(o, 'default');
      return { id: txt(o), default: d === undefined ? null : d.toLowerCase() === 'true' };
    });
    return { ...base, groups: groupIds(e['grouplist']), options };
  });
  const langpacks: CompsLangpack[] = [];
  for (const lp of asArray(r['langpacks'] as XNode[])) {
    for (const m of asArray(lp['match'] as unknown[])) langpacks.push({ name: attr(m, 'name') ?? '', install: attr(m, 'install') ?? '' });
  }
  return { groups, categories, environments, langpacks };
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
function escA(s: string): string {
  return esc(s).replace(/"/g, '&quot;');
}

function namedXml(n: Named, ind: string): string {
  let s = `${ind}<id>${esc(n.id)}</id>\n`;
  if (n.name !== null) s += `${ind}<name>${esc(n.name)}</name>\n`;
  for (const [l, v] of Object.entries(n.nameTranslations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) s += `${ind}<name xml:lang="${escA(l)}">${esc(v)}</name>\n`;
  if (n.description !== null) s += `${ind}<description>${esc(n.description)}</description>\n`;
  for (const [l, v] of Object.entries(n.descriptionTranslations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) s += `${ind}<description xml:lang="${escA(l)}">${esc(v)}</description>\n`;
  return s;
}

/** One `<group>` element. */
export function dumpGroup(g: CompsGroup): string {
  let s = '  <group>\n' + namedXml(g, '    ');
  if (g.default !== null) s += `    <default>${g.default}</default>\n`;
  if (g.uservisible !== null) s += `    <uservisible>${g.uservisible}</uservisible>\n`;
  if (g.biarchonly !== null) s += `    <biarchonly>${g.biarchonly}</biarchonly>\n`;
  if (g.displayOrder !== null) s += `    <display_order>${g.displayOrder}</display_order>\n`;
  if (g.langonly !== null) s += `    <langonly>${esc(g.langonly)}</langonly>\n`;
  s += '    <packagelist>\n';
  for (const p of g.packages) {
    s += `      <packagereq type="${p.type}"`;
    if (p.requires) s += ` requires="${escA(p.requires)}"`;
    if (p.basearchonly !== undefined) s += ` basearchonly="${p.basearchonly}"`;
    s += `>${esc(p.name)}</packagereq>\n`;
  }
  return s + '    </packagelist>\n  </group>\n';
}

export function dumpCategory(c: CompsCategory): string {
  let s = '  <category>\n' + namedXml(c, '    ');
  if (c.displayOrder !== null) s += `    <display_order>${c.displayOrder}</display_order>\n`;
  s += '    <grouplist>\n';
  for (const g of c.groups) s += `      <groupid>${esc(g)}</groupid>\n`;
  return s + '    </grouplist>\n  </category>\n';
}

export function dumpEnvironment(e: CompsEnvironment): string {
  let s = '  <environment>\n' + namedXml(e, '    ');
  if (e.displayOrder !== null) s += `    <display_order>${e.displayOrder}</display_order>\n`;
  s += '    <grouplist>\n';
  for (const g of e.groups) s += `      <groupid>${esc(g)}</groupid>\n`;
  s += '    </grouplist>\n    <optionlist>\n';
  for (const o of e.options) s += `      <groupid${o.default !== null ? ` default="${o.default}"` : ''}>${esc(o.id)}</groupid>\n`;
  return s + '    </optionlist>\n  </environment>\n';
}

export const COMPS_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">\n<comps>\n';
export const COMPS_FOOTER = '</comps>\n';

/** A whole comps.xml (groups, categories, environments, then langpacks). */
export function writeComps(c: Partial<Comps>): string {
  let s = COMPS_HEADER;
  for (const g of c.groups ?? []) s += dumpGroup(g);
  for (const x of c.categories ?? []) s += dumpCategory(x);
  for (const e of c.environments ?? []) s += dumpEnvironment(e);
  if (c.langpacks?.length) {
    s += '  <langpacks>\n';
    for (const m of c.langpacks) s += `    <match name="${escA(m.name)}" install="${escA(m.install)}"/>\n`;
    s += '  </langpacks>\n';
  }
  return s + COMPS_FOOTER;
}
