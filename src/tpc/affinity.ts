// Thread pinning. Both functions act on the calling OS thread: the main
// thread, or the worker_thread that calls them (each worker is its own OS
// thread), never on the whole process.
import { native } from '../native.js';
import { parseList } from './cpuset.js';

export interface ThreadBinding {
  /** the CPUs (OS indexes) this thread may run on, ascending */
  cpus: number[];
  /** the CPU it is running on right now */
  cpu: number;
  /** its kernel thread id (gettid) */
  tid: number;
}

/**
 * Pins the calling thread to exactly these CPUs: one CPU, a list, or a
 * cpulist string ("0-3,8"). Throws, naming the CPUs, when any of them is
 * offline or outside this process's allowed set; the affinity is then unchanged.
 */
export function pinThread(cpus: number | number[] | string): void {
  let list: number[];
  try {
    list = typeof cpus === 'string' ? parseList(cpus) : typeof cpus === 'number' ? [cpus] : [...cpus];
  } catch (err) {
    throw new Error(`pinThread: ${(err as Error).message}`);
  }
  if (list.length === 0) throw new Error(`pinThread: no CPUs given (${JSON.stringify(cpus)})`);
  native().bindThread(list);
}

/** Where the calling thread may run, where it runs now, and its tid. */
export function threadBinding(): ThreadBinding {
  const n = native();
  return { cpus: n.threadAffinity(), cpu: n.currentCpu(), tid: n.threadId() };
}
