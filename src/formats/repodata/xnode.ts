/** Accessors for fast-xml-parser nodes (attributes prefixed "@", text under "#text"). */
export type XNode = Record<string, unknown>;

export function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}

/** Element text ('' for an empty element with attributes), null when absent. */
export function txt(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'object') {
    const t = (v as XNode)['#text'];
    return t === undefined ? '' : String(t);
  }
  return String(v);
}

/** An attribute's value, null when absent. */
export function attr(n: unknown, name: string): string | null {
  if (!n || typeof n !== 'object') return null;
  const v = (n as XNode)[`@${name}`];
  return v === undefined ? null : String(v);
}
