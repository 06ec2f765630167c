/**
 * AMI items from AWS_IMAGES metadata attributes, and AMI/VHD items from CLOUD_IMAGES
 * `<sub>/resources.yaml` (pushsource's staged_ami / staged_cloud), with coded problems where
 * pushsource would crash.
 */
import { promises as fsp } from 'node:fs';
import type { Problem } from '../../errors.js';
import { amiPushItem, vhdPushItem } from '../../items/model.js';
import type { AmiPushItem, VHDPushItem } from '../../items/types.js';
import { ioReason, itemErrorProblems, namedKeysOnly, notYetNamed, problem, pyJoin } from './common.js';
import { decodeStagedText, isPlainObject, parseData } from '../../formats/yaml/read.js';

/** Keys copied verbatim from the attributes (AWS_IMAGES) or resources.yaml top level (CLOUD_IMAGES). */
const AMI_RAW_KEYS = [
  'type', 'region', 'virtualization', 'volume', 'root_device', 'description', 'sriov_net_support', 'ena_support', 'uefi_support',
  'public_image', 'release_notes', 'usage_instructions', 'recommended_instance_type', 'marketplace_entity_type', 'image_id',
  'scanning_port', 'user_name', 'version_title', 'security_groups', 'access_endpoint_url',
  // accepted by pushsource's schema but dropped by its backend; we keep them (an added value, never a changed one)
  'marketplace_title_template', 'marketplace_name',
] as const;
const RELEASE_KEYS = ['product', 'date', 'arch', 'respin', 'version', 'base_product', 'base_version', 'variant', 'type'] as const;

type Loc = { file?: string; entry?: string };

/** Checks where pushsource would raise on raw AMI attributes; returns problems (fields under `prefix`). */
function amiRawProblems(attrs: Record<string, unknown>, loc: Loc, prefix: string): Problem[] {
  const out: Problem[] = [];
  if (typeof attrs.description !== 'string') {
    out.push(problem('STAGED_AMI_MISSING_FIELD', attrs.description === undefined || attrs.description === null ? 'an AMI needs a description' : 'description must be a string', { ...loc, field: `${prefix}description` }));
  }
  if (attrs.access_endpoint_url !== undefined && attrs.access_endpoint_url !== null) {
    out.push(problem('STAGED_AMI_UNSUPPORTED_FIELD', 'access_endpoint_url cannot be loaded from a staging area (pushsource fails on it too); remove it', { ...loc, field: `${prefix}access_endpoint_url` }));
  }
  if ('security_groups' in attrs && !Array.isArray(attrs.security_groups)) {
    out.push(problem('STAGED_AMI_INVALID_FIELD', 'security_groups must be a list when given (null is not accepted)', { ...loc, field: `${prefix}security_groups` }));
  }
  if ('scanning_port' in attrs && attrs.scanning_port !== null && !Number.isInteger(attrs.scanning_port)) {
    out.push(problem('STAGED_AMI_INVALID_FIELD', `scanning_port must be an integer (got ${JSON.stringify(attrs.scanning_port)})`, { ...loc, field: `${prefix}scanning_port` }));
  }
  return out;
}

/** Python's truth value of a YAML/JSON value (an empty mapping or list is false, as are 0 and ''). */
function pyTruthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

/**
 * The raw AMI keys, and boot_mode when truthy. billing_codes (when truthy) only for AWS_IMAGES:
 * pushsource's CLOUD_IMAGES loader does not read it (its items have billing_codes null). It is
 * built as AmiBillingCodes(name=..., codes=...): its other keys (the schema allows them) are
 * dropped, each named in a warning at `billingCodes.loc`.
 */
function copyRaw(src: Record<string, unknown>, into: Record<string, unknown>, opts: { billingCodes?: { loc: { file: string; entry?: string; field: string }; warnings: Problem[] } }): void {
  for (const k of AMI_RAW_KEYS) if (k in src) into[k] = src[k];
  if (opts.billingCodes && pyTruthy(src.billing_codes)) {
    const bc = src.billing_codes;
    into.billing_codes = isPlainObject(bc) ? namedKeysOnly(bc, ['name', 'codes'], 'AmiBillingCodes', opts.billingCodes.loc, opts.billingCodes.warnings) : bc;
  }
  if (pyTruthy(src.boot_mode)) into.boot_mode = src.boot_mode;
}

/** AWS_IMAGES/<file> with its staged.yaml entry attributes. */
export function amiFromAttributes(
  attributes: Record<string, unknown>,
  base: { name: string; src: string; origin: string; dest: string[] },
  loc: Loc,
): { item?: AmiPushItem; problems: Problem[]; warnings: Problem[] } {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const release = attributes.release;
  if (!isPlainObject(release)) {
    problems.push(problem('STAGED_AMI_MISSING_FIELD', 'an AMI needs attributes.release (product, date, arch, respin) and the other AMI attributes', { ...loc, field: 'attributes.release' }));
  }
  problems.push(...amiRawProblems(attributes, loc, 'attributes.'));
  const at = (field: string) => ({ file: loc.file ?? base.src, ...(loc.entry !== undefined ? { entry: loc.entry } : {}), field });
  // AmiRelease(**{k: release[k] for its fields}): another key (the schema allows it: a misspelt
  // varient) is dropped as pushsource drops it, and named.
  const rel: Record<string, unknown> = isPlainObject(release) ? namedKeysOnly(release, RELEASE_KEYS, 'AmiRelease', at('attributes.release'), warnings) : {};
  const input: Record<string, unknown> = { ...base, state: 'PENDING', release: rel };
  copyRaw(attributes, input, { billingCodes: { loc: at('attributes.billing_codes'), warnings } });
  // The model runs whatever the checks above said: its problems on other fields are listed too.
  try {
    const item = amiPushItem(input as { name: unknown });
    return problems.length ? { problems, warnings } : { item, problems, warnings };
  } catch (e) {
    const model = itemErrorProblems(e, loc, (f) => `attributes.${f}`);
    return { problems: problems.length ? [...problems, ...notYetNamed(problems.map((p) => p.field), model)] : model, warnings };
  }
}

/**
 * resources.yaml's release.date as the model's datestr reads it. The file is not validated, and
 * pushsource keeps a value that is not a string as it is: an unquoted 20240115, which YAML reads
 * as an integer, is the day its eight digits spell (YYYYMMDD, as the quoted form); the model then
 * refuses a day that does not exist. Any other integer, or a float, boolean or list, is left for
 * the model to refuse (no reading makes it a date).
 */
function releaseDate(v: unknown): unknown {
  return typeof v === 'number' && Number.isInteger(v) && /^[0-9]{8}$/.test(String(v)) ? String(v) : v;
}

export interface CloudLoad {
  items: Array<AmiPushItem | VHDPushItem>;
  problems: Problem[];
  warnings: Problem[];
}

/** One CLOUD_IMAGES/<sub>/ directory holding resources.yaml. */
export async function loadCloudDir(subdir: string, dest: string): Promise<CloudLoad> {
  const res: CloudLoad = { items: [], problems: [], warnings: [] };
  const file = pyJoin(subdir, 'resources.yaml');
  let text: string;
  try {
    const decoded = decodeStagedText(await fsp.readFile(file));
    if (decoded.error !== undefined) {
      res.problems.push(problem('STAGED_CLOUD_PARSE', decoded.error, { file }));
      return res;
    }
    text = decoded.text;
  } catch (e) {
    res.problems.push(problem('STAGED_FILE_UNREADABLE', `cannot read: ${ioReason(e)}`, { file }));
    return res;
  }
  const parsed = await parseData(text, false);
  if (parsed.error !== undefined) {
    res.problems.push(problem('STAGED_CLOUD_PARSE', parsed.error, { file }));
    return res;
  }
  const data = parsed.value;
  if (!data) {
    res.warnings.push(problem('STAGED_CLOUD_EMPTY', `Resources.yaml file at ${file} is empty (ignored)`, { file }));
    return res;
  }
  if (!isPlainObject(data)) {
    res.problems.push(problem('STAGED_CLOUD_INVALID', 'resources.yaml must be a mapping', { file }));
    return res;
  }
  if (data.type !== 'AMI' && data.type !== 'VHD') {
    // pushsource yields nothing, silently: said, as a misspelt type (ami) leaves the images out of a push that exits 0.
    res.warnings.push(problem('STAGED_ENTRY_IGNORED', `${file} is ignored: its type ${JSON.stringify(data.type) ?? 'null'} is neither AMI nor VHD`, { file, field: 'type' }));
    return res;
  }
  const loc = { file };
  const need = (cond: boolean, field: string, msg: string) => {
    if (!cond) res.problems.push(problem('STAGED_CLOUD_MISSING_FIELD', msg, { ...loc, field }));
    return cond;
  };
  // Every problem of the file is listed: a bad `images` does not hide the others.
  const images: unknown[] = need(Array.isArray(data.images), 'images', 'images must be a list of {path, architecture, sha256sum}') ? (data.images as unknown[]) : [];
  for (const img of images) {
    if (isPlainObject(img) && typeof img.path === 'string' && img.path.includes('/')) {
      res.warnings.push(problem('STAGED_CLOUD_SLASH', `Unexpected '/' in ${img.path} (ignored)`, { file, entry: img.path }));
      return res; // pushsource drops the whole directory
    }
  }
  const build = data.build;
  if (need(isPlainObject(build), 'build', 'build (name, version, respin) is required')) {
    const b = build as Record<string, unknown>;
    for (const k of ['name', 'version', 'respin']) need(typeof b[k] === 'string', `build.${k}`, `build.${k} must be a string`);
    if (typeof b.respin === 'string' && !/^\s*[+-]?\d+\s*$/.test(b.respin)) res.problems.push(problem('STAGED_CLOUD_INVALID', `build.respin ${JSON.stringify(b.respin)} is not an integer`, { ...loc, field: 'build.respin' }));
  }
  const release = data.release;
  if (need(isPlainObject(release), 'release', 'release (with date) is required')) need('date' in (release as object), 'release.date', 'release.date is required');
  need(typeof data.description === 'string', 'description', 'description must be a string (every VM image needs one)');
  // (The description is said once, above, for every image type.)
  if (data.type === 'AMI') res.problems.push(...amiRawProblems(data, loc, '').filter((q) => q.field !== 'description'));
  images.forEach((img, i) => {
    if (!isPlainObject(img)) {
      res.problems.push(problem('STAGED_CLOUD_INVALID', 'image entry must be a mapping', { ...loc, field: `images[${i}]` }));
      return;
    }
    need(typeof img.path === 'string' && img.path !== '', `images[${i}].path`, 'image path is required');
  });
  // The items are built even when the checks above refused the file (then none is kept), so
  // that the model's problems on other fields are listed too; one for the file when every image
  // has it (release.date, ena_support), else per image.
  const refused = res.problems.length > 0;
  const named = res.problems.map((p) => p.field);
  const b = (isPlainObject(build) ? build : {}) as Record<string, unknown>;
  const r = (isPlainObject(release) ? release : {}) as Record<string, unknown>;
  const bname = typeof b.name === 'string' ? b.name : '';
  const product = bname.includes('-') ? bname.slice(0, bname.lastIndexOf('-')) : bname;
  const respin = typeof b.respin === 'string' ? parseInt(b.respin, 10) || 0 : 0;
  const model: Problem[] = [];
  const items: Array<AmiPushItem | VHDPushItem> = [];
  for (const [i, raw] of images.entries()) {
    if (!isPlainObject(raw) || typeof raw.path !== 'string' || !raw.path) continue;
    const path = raw.path;
    const rel: Record<string, unknown> = { product, date: releaseDate(r.date), arch: raw.architecture, respin, version: r.version || b.version };
    const input: Record<string, unknown> = {
      name: path,
      state: 'PENDING',
      src: pyJoin(subdir, path),
      dest: [dest],
      origin: subdir,
      sha256sum: raw.sha256sum ?? null,
      build_info: { name: b.name, version: b.version, release: b.respin, id: null },
      description: data.description,
    };
    try {
      if (data.type === 'AMI') {
        for (const k of ['base_product', 'base_version', 'variant', 'type'] as const) if (k in r) rel[k] = r[k];
        input.release = rel;
        copyRaw(data, input, {});
        input.description = data.description;
        input.type = data.type;
        items.push(amiPushItem(input as { name: unknown }));
      } else {
        input.release = rel;
        items.push(vhdPushItem(input as { name: unknown }));
      }
    } catch (e) {
      model.push(
        ...itemErrorProblems(e, { file, entry: path }, (f) =>
          f === 'sha256sum' ? `images[${i}].sha256sum` : f === 'release.arch' ? `images[${i}].architecture` : f === 'build_info.release' ? 'build.respin' : f.replace(/^build_info\./, 'build.'),
        ),
      );
    }
  }
  // A problem of a field of the file (not of one image) is said once.
  const seen = new Set<string>();
  const once = model.filter((p) => {
    if (p.field?.startsWith('images[')) return true;
    const k = `${p.code}\0${p.field}\0${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    if (p.field !== undefined) delete p.entry;
    return true;
  });
  res.problems.push(...(refused ? notYetNamed(named, once) : once));
  if (!refused) res.items.push(...items);
  return res;
}
