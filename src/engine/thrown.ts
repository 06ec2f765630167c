/**
 * What a plugin threw, as the text of the coded error that reports it. A plugin may throw
 * anything, not only an Error: a string, undefined or null, a promise rejected with no reason, a
 * plain object. Reading `.message` of such a value crashed the command the plugin failed in (and
 * `--force` could not get past a removal hook that did so); this never throws.
 */
export function thrownText(e: unknown): string {
  try {
    if (e instanceof Error) return e.message || `${e.name} (with no message)`;
    // A thrown string is the plugin's message as it wrote it.
    if (typeof e === 'string') return e || 'the plugin threw an empty string';
    if (e === undefined || e === null) return `the plugin threw no reason (${String(e)})`;
    if (typeof e === 'object') {
      const message = (e as { message?: unknown }).message;
      if (typeof message === 'string' && message) return message;
      const json = JSON.stringify(e);
      if (json !== undefined && json !== '{}') return json.length > 200 ? `${json.slice(0, 200)}…` : json;
      return `the plugin threw ${Object.prototype.toString.call(e)}`;
    }
    return String(e);
  } catch {
    // A value whose message, JSON or text cannot be read (a getter that throws, a cycle).
    return 'the plugin threw a value that cannot be shown';
  }
}
