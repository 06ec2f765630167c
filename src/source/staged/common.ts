import { StagepushError, type Problem } from '../../errors.js';

/** os.path.join for two parts: no normalisation, so `src`/`origin` keep the user's spelling. */
export function pyJoin(a: string, b: string): string {
  if (b.startsWith('/')) return b;
  if (a === '' || a.endsWith('/')) return a + b;
  return a + '/' + b;
}

export function problem(code: string, message: string, loc: { file?: string; entry?: string; field?: string } = {}): Problem {
  const p: Problem = { code, message };
  if (loc.file !== undefined) p.file = loc.file;
  if (loc.entry !== undefined) p.entry = loc.entry;
  if (loc.field !== undefined) p.field = loc.field;
  return p;
}

/**
 * A model error (ITEM_*) as a problem at `loc`; `fieldPrefix` maps the item field to where it
 * came from in the input (e.g. `attributes.`).
 */
/**
 * Problems of a second check (the item model after a schema) on fields the first did not already
 * name (`named`: fields of the first check's problems; a field, its parts and its parents count).
 */
export function notYetNamed(named: Array<string | undefined>, more: Problem[]): Problem[] {
  const taken = named.filter((f): f is string => f !== undefined && f !== '');
  const covers = (a: string, b: string) => a === b || b.startsWith(a + '.') || b.startsWith(a + '[');
  return more.filter((p) => p.code !== 'STAGED_INTERNAL' && !(p.field !== undefined && taken.some((t) => covers(t, p.field!) || covers(p.field!, t))));
}

export function itemErrorProblems(err: unknown, loc: { file?: string; entry?: string }, fieldMap: (f: string) => string = (f) => f): Problem[] {
  // The model reports every field error of an item at once (in `problems`).
  if (err instanceof StagepushError && err.problems.length > 1) {
    return err.problems.map((p) => itemErrorProblem(new StagepushError(p.code, p.message, { kind: 'invalid', field: p.field }), loc, fieldMap));
  }
  return [itemErrorProblem(err, loc, fieldMap)];
}

export function itemErrorProblem(err: unknown, loc: { file?: string; entry?: string }, fieldMap: (f: string) => string = (f) => f): Problem {
  if (err instanceof StagepushError) {
    const field = err.field;
    const reason = field && err.message.startsWith(field + ': ') ? err.message.slice(field.length + 2) : err.message;
    return problem(err.code, reason, { ...loc, ...(field ? { field: fieldMap(field) } : {}) });
  }
  return problem('STAGED_INTERNAL', String((err as Error)?.message ?? err), loc);
}

/**
 * A nested object as pushsource builds it, from its class's named keys only
 * (ErratumReference._from_data, ErratumModule._from_data, AmiBillingCodes(name, codes)): every
 * other key, which the schema allows there, is dropped as pushsource drops it, and named in a
 * warning (`STAGED_FIELD_IGNORED`) rather than refused, so a staging area pushsource loads loads
 * here too. Only for objects whose schema has no additionalProperties: false (elsewhere the
 * schema refuses the key first).
 */
export function namedKeysOnly(obj: Record<string, unknown>, keys: readonly string[], className: string, loc: { file: string; entry?: string; field: string }, warnings: Problem[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in obj) out[k] = obj[k];
  for (const k of Object.keys(obj)) {
    if (keys.includes(k)) continue;
    const field = `${loc.field}.${k}`;
    const where = loc.entry !== undefined ? `${loc.file}: ${loc.entry}` : loc.file;
    warnings.push(problem('STAGED_FIELD_IGNORED', `${where}: ${field} is ignored (${className} has no such field; pushsource reads only ${keys.join(', ')})`, { ...loc, field }));
  }
  return out;
}

/** errno code → readable text for messages. */
export function ioReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'ENOTDIR':
      return 'not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return e?.message ?? String(err);
  }
}
