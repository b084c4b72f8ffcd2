// The runtime of this thread, as code running on it reaches it (spawn(),
// channels, sharedBuffer(), io, sleep): the Runtime on the main thread, the
// JsDriver on a driver thread. Kept in the thread's one global slot
// (../slot.ts) so both builds of gatio loaded in one thread see it.
import { threadSlot } from '../slot.js';
import type { IoClient } from './io.js';
import type { Mailbox, SpawnOptions } from './mailbox.js';

/** What only a driver thread offers: its identity, its ring's timers, its scheduler. */
export interface DriverSide {
  readonly id: number;
  readonly name: string;
  readonly tpc: number;
  readonly pu: number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  yieldIfNeeded(): Promise<void> | undefined;
}

export interface ThreadRuntime {
  readonly mailbox: Mailbox;
  readonly io: IoClient;
  spawn<T = unknown>(task: string, args?: unknown[], opts?: SpawnOptions): Promise<T>;
  /** set on a driver thread */
  readonly driver?: DriverSide;
}

/** Set by the runtime's owner of this thread: the Runtime on the main thread, each driver on its own. */
export function setThreadRuntime(rt: ThreadRuntime | undefined): void {
  threadSlot().runtime = rt;
}

export function threadRuntime(): ThreadRuntime | undefined {
  return threadSlot().runtime as ThreadRuntime | undefined;
}
