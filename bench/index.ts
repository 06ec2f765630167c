/**
 * `npm run bench [-- FILTER…]`: runs every compiled bench/*.bench.ts module (dist/bench/*.bench.js)
 * in name order; each exports `async function run(ctx: BenchContext)` and prints a section of
 * figures. FILTER arguments select modules by substring. Never run in CI.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createContext, runMeasured, type BenchContext } from './lib.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const modules = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => !filters.length || filters.some((s) => f.includes(s)))
  .sort();
if (!modules.length) {
  console.error(`no bench modules${filters.length ? ' match ' + filters.join(', ') : ''} in ${here}`);
  process.exit(1);
}
const ctx = createContext();
console.log(`stagepush bench: ${modules.length} module(s), node ${process.version}, cache ${ctx.cacheDir}, scale ${ctx.scale}`);
// Context for every figure below: what starting node itself costs here (each stagepush run pays it).
const starts: number[] = [];
for (let i = 0; i < 5; i++) starts.push((await runMeasured(process.execPath, ['-e', '0'])).ms);
starts.sort((a, b) => a - b);
console.log(`node start-up (node -e 0, median of 5): ${starts[2]!.toFixed(0)} ms${process.env.NODE_EXTRA_CA_CERTS ? ' (NODE_EXTRA_CA_CERTS is set: node reads those certificates at every start)' : ''}`);
let failed = 0;
try {
  for (const m of modules) {
    const mod = (await import(pathToFileURL(path.join(here, m)).href)) as { run?: (ctx: BenchContext) => Promise<void> };
    if (typeof mod.run !== 'function') {
      console.error(`${m}: exports no run(ctx)`);
      failed++;
      continue;
    }
    try {
      await mod.run(ctx);
    } catch (err) {
      failed++;
      console.error(`${m} failed: ${err instanceof Error ? err.stack : String(err)}`);
    }
  }
} finally {
  ctx.cleanup();
}
process.exit(failed ? 1 : 0);
