// Starting and stopping an io driver's native thread (native/io_driver.cc):
// pinned at creation, its own ring, no JavaScript. The main thread's
// runtime calls these; the requests themselves go through shared/io.ts.
import { native, type RawIoDriverInfo } from '../../native.js';
import type { DriverLayout, Layout } from '../protocol/layout.js';

export interface IoDriverHandle extends RawIoDriverInfo {
  /** the io driver's id in the plan */
  driver: number;
}

/** Starts io driver `d`'s pinned native thread; returns once its ring is set up. */
export function startIoDriver(layout: Layout, d: DriverLayout, eventfd: number, spinUs = 0): IoDriverHandle {
  if (d.inbox.tpc !== d.tpc || d.stats.tpc !== d.tpc) throw new Error(`io driver ${d.name}: its inbox and stats must be in its own TPC's arena`);
  const info = native().ioDriverStart({
    arenaIds: layout.arenas,
    tpc: d.tpc,
    inboxOffset: d.inbox.offset,
    eventfd,
    pu: d.pu,
    statsOffset: d.stats.offset,
    ringEntries: layout.settings.knobs.ringEntries,
    endpoints: layout.endpoints,
    driver: d.id,
    spinUs,
  });
  return { ...info, driver: d.id };
}

/**
 * Stops the thread: it cancels whatever is in flight, waits for every
 * completion (the kernel then writes into no buffer any more), and exits;
 * this call joins it. Completions reaped while stopping are not delivered.
 * `orphans`: after a death (not a stop), the arena blocks the caller frees
 * once no JS driver reads them any more (runtime.ioDriverExited).
 */
export function stopIoDriver(h: IoDriverHandle): { drained: boolean; dropped: number; failure: string | null; orphans: number[] } {
  return native().ioDriverStop(h.handle);
}

