// The entry of every exec/hybrid driver's worker thread: build the driver
// (it pins itself first), import the task modules, report ready, run.
import { parentPort, workerData } from 'node:worker_threads';
import { JsDriver } from './driver.js';
import { Stat, type DriverInit, type FailedMessage, type ReadyMessage, type ThrownValue } from '../protocol/layout.js';

async function main(): Promise<void> {
  if (!parentPort) throw new Error('gatio: the driver entry must run in a worker thread started by start()');
  const driver = new JsDriver(workerData as DriverInit);
  let tasks: string[];
  try {
    tasks = await driver.load();
  } catch (err) {
    // What the main thread needs to say which module failed and keep what it threw (class name, stack, code, cause).
    const failed: FailedMessage = { type: 'failed', module: driver.loading, error: describe(err) };
    parentPort.postMessage(failed);
    // The main thread rejects start() with it and ends this thread; should it not, end after a while.
    setTimeout(() => process.exit(1), 10_000).unref?.();
    setInterval(() => {}, 1000);
    return;
  }
  const ready: ReadyMessage = { type: 'ready', tasks, tid: driver.stats[Stat.Tid]! };
  parentPort.postMessage(ready);
  // When the loop stops, nothing else holds this thread's event loop: it ends.
  driver.run(() => parentPort!.postMessage({ type: 'stopped' }));
}

/** An error as plain data (postMessage keeps only some of an Error's fields, and none of a non-Error's kind). */
function describe(err: unknown, depth = 0): ThrownValue {
  if (!(err instanceof Error)) return { name: typeof err, message: String(err), value: safeClone(err) };
  const e = err as Error & { code?: unknown };
  return {
    name: e.name,
    message: e.message,
    stack: e.stack,
    ...(typeof e.code === 'string' || typeof e.code === 'number' ? { code: e.code } : {}),
    ...(e.cause !== undefined && depth < 4 ? { cause: describe(e.cause, depth + 1) } : {}),
  };
}

function safeClone(v: unknown): unknown {
  try {
    return structuredClone(v);
  } catch {
    return String(v);
  }
}

void main();
