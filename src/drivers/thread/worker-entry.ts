// The entry of every exec/hybrid driver's worker thread: build the driver
// (it pins itself first), import the task modules, report ready, run.
import { parentPort, workerData } from 'node:worker_threads';
import { JsDriver } from './driver.js';
import { Stat, type DriverInit, type ReadyMessage } from '../protocol/layout.js';

async function main(): Promise<void> {
  if (!parentPort) throw new Error('gatio: the driver entry must run in a worker thread started by start()');
  const driver = new JsDriver(workerData as DriverInit);
  const tasks = await driver.load();
  const ready: ReadyMessage = { type: 'ready', tasks, tid: driver.stats[Stat.Tid]! };
  parentPort.postMessage(ready);
  // When the loop stops, nothing else holds this thread's event loop: it ends.
  driver.run(() => parentPort!.postMessage({ type: 'stopped' }));
}

void main();
