// Test worker for the pool: a job whose path is "slow" blocks its thread (as a hung read would).
export default async function run(job: { path: string }): Promise<unknown> {
  if (job.path === 'slow') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
  return { ok: true, sums: { sha256: job.path } };
}
