// Helpers shared by the test files.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const fixtures = join(root, 'test', 'fixtures');

// skip(name, reason): see ./_harness.mjs, which counts it.
export { skip } from './_harness.mjs';

/** Runs fn in a worker thread (ESM source string) and resolves its posted message. */
export async function inWorker(source, workerData) {
  const { Worker } = await import('node:worker_threads');
  return new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, workerData });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited ${code}`)));
  });
}
