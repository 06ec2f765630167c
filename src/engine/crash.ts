/**
 * Named crash checkpoints for the crash-safety tests. When the environment variable
 * STAGEPUSH_CRASH_AT names a checkpoint ("file-written", "in-transaction", "after-commit",
 * "publish-written", "publish-recorded", "unpublished"; optionally prefixed by the operation, e.g.
 * "upload:in-transaction", and suffixed by "#N" to crash at the Nth hit), the process kills
 * itself with SIGKILL there. Unset in production: a no-op.
 */
let currentOp = '';
const hits = new Map<string, number>();

export function setCrashOp(op: string): void {
  currentOp = op;
}

export function checkpoint(name: string): void {
  const spec = process.env.STAGEPUSH_CRASH_AT;
  if (!spec) return;
  const [target, nth] = spec.split('#') as [string, string | undefined];
  const matches = target === name || target === `${currentOp}:${name}`;
  if (!matches) return;
  const n = (hits.get(target) ?? 0) + 1;
  hits.set(target, n);
  if (nth !== undefined && Number(nth) !== n) return;
  process.kill(process.pid, 'SIGKILL');
}
