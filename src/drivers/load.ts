// Reading the load a driver publishes (layout.ts, Stat) from any thread.
import type { Mailbox } from './mailbox.js';
import { Stat, STATS_SLOTS } from './layout.js';
import type { DriverLoad } from './router.js';

const views = new WeakMap<Mailbox, Float64Array[]>();

/** The Float64 stats block of driver `id`, as seen from this thread. */
export function statsOf(mailbox: Mailbox, id: number): Float64Array {
  let list = views.get(mailbox);
  if (!list) views.set(mailbox, (list = []));
  let v = list[id];
  if (!v) {
    const d = mailbox.layout.drivers[id]!;
    v = list[id] = new Float64Array(mailbox.arenas[d.tpc]!.buffer, d.stats.offset, STATS_SLOTS);
  }
  return v;
}

const loads = new WeakMap<Mailbox, DriverLoad[]>();

/**
 * Driver `id`'s published load. The returned object is reused for the next
 * call with the same id (routing reads it at once; no garbage per decision).
 */
export function loadOf(mailbox: Mailbox, id: number): DriverLoad {
  const s = statsOf(mailbox, id);
  let list = loads.get(mailbox);
  if (!list) loads.set(mailbox, (list = []));
  const l = (list[id] ??= { alive: false, pending: 0, busy: 0 });
  l.alive = s[Stat.Alive] === 1;
  l.pending = s[Stat.Pending]!;
  l.busy = s[Stat.Busy]!;
  return l;
}
