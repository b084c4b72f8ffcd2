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

export function loadOf(mailbox: Mailbox, id: number): DriverLoad {
  const s = statsOf(mailbox, id);
  return { alive: s[Stat.Alive] === 1, pending: s[Stat.Pending]!, busy: s[Stat.Busy]! };
}
