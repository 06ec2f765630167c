/** A thrown or returned value, said without calling anything it holds (String() of some objects throws). */
export function describe(v: unknown): string {
  if (v === null || v === undefined || typeof v !== 'object') {
    try {
      return String(v);
    } catch {
      return typeof v;
    }
  }
  try {
    return JSON.stringify(v) ?? Object.prototype.toString.call(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}
