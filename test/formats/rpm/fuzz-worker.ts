/**
 * Fuzz worker (run by fuzz.test.ts in a worker thread with a small heap): runs batches of
 * mutation cases and reports each outcome as soon as it ends (the parent's watchdog measures the
 * time per case from these reports).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { StagepushError } from '../../../src/errors.js';
import { parseRpm } from '../../../src/formats/rpm/index.js';
import { loadSeeds, mutate } from './fuzz-lib.js';

export interface FuzzOutcome {
  type: 'case';
  index: number;
  /** 'record': parsed; 'rpm-error': a StagepushError with an RPM_ code; 'bad': anything else. */
  result: 'record' | 'rpm-error' | 'bad';
  code?: string;
  detail?: string;
}

const { files, seed, inject } = workerData as {
  files: Array<{ name: string; path: string }>;
  seed: number;
  /** Self-test of the parent's watchdog: hang or exhaust the heap at one case. */
  inject?: { index: number; kind: 'hang' | 'oom' };
};
const seeds = loadSeeds(files.map((f) => ({ name: f.name, data: readFileSync(f.path) })));
const port = parentPort!;

port.on('message', (msg: { from: number; to: number }) => {
  for (let i = msg.from; i < msg.to; i++) {
    if (inject && inject.index === i) {
      if (inject.kind === 'hang') for (;;);
      const hog: number[][] = [];
      for (;;) hog.push(new Array(1e6).fill(i));
    }
    const m = mutate(seeds, seed, i);
    let out: FuzzOutcome;
    try {
      const rec = parseRpm(m.input, m.fileSize);
      JSON.stringify(rec);
      out = { type: 'case', index: i, result: 'record' };
    } catch (err) {
      if (err instanceof StagepushError && err.code.startsWith('RPM_')) out = { type: 'case', index: i, result: 'rpm-error', code: err.code };
      else out = { type: 'case', index: i, result: 'bad', detail: `${m.description}: ${err instanceof Error ? err.stack : String(err)}` };
    }
    port.postMessage(out);
  }
  port.postMessage({ type: 'batch', to: msg.to });
});
port.postMessage({ type: 'ready' });
