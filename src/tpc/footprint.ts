// The runtime's own blocks in each TPC's arena, laid out before any task
// runs: an inbox per driver (and the main thread's, in TPC 0), a stats
// block per driver, a ring block per JS driver. The config check needs
// their size to refuse an arena too small to start (`gatio plan` says so);
// the formats themselves belong to src/drivers/protocol/ (queue.ts,
// ring.ts, layout.ts), and test/plan.test.mjs checks these figures against
// them. The buddy allocator rounds every block up to a power of two.
import type { RuntimeKnobs } from './settings.js';

const QUEUE_HEADER_BYTES = 256;
const RING_HEADER_BYTES = 64;
const RING_COMMAND_BYTES = 64;
const RING_COMPLETION_BYTES = 16;
const STATS_BLOCK_BYTES = 32 * 8;
const MIN_BLOCK = 256;

export interface Footprint {
  bytes: number;
  inboxes: number;
  inboxBytes: number;
  rings: number;
  ringBytes: number;
  statsBlocks: number;
  statsBytes: number;
}

/** What the buddy allocator takes for a request of `n` bytes. */
const block = (n: number) => Math.max(MIN_BLOCK, 2 ** Math.ceil(Math.log2(n)));

/** Bytes of one inbox (header and slots), one ring block and one stats block, as requested (before rounding). */
export function runtimeBlockBytes(knobs: Required<Pick<RuntimeKnobs, 'inboxSlots' | 'slotBytes' | 'ringEntries'>>): { inbox: number; ring: number; stats: number } {
  const e = knobs.ringEntries;
  return {
    inbox: QUEUE_HEADER_BYTES + knobs.inboxSlots * knobs.slotBytes,
    ring: RING_HEADER_BYTES + e * RING_COMMAND_BYTES + 2 * e * RING_COMPLETION_BYTES, // commands = entries, completions = 2 x entries
    stats: STATS_BLOCK_BYTES,
  };
}

/** The runtime's own blocks in a TPC with `drivers` drivers (`jsDrivers` of them exec/hybrid), `main`: it holds the main thread's inbox. */
export function runtimeFootprint(knobs: Required<Pick<RuntimeKnobs, 'inboxSlots' | 'slotBytes' | 'ringEntries'>>, drivers: number, jsDrivers: number, main: boolean): Footprint {
  const b = runtimeBlockBytes(knobs);
  const inboxes = drivers + (main ? 1 : 0);
  const f = { inboxes, inboxBytes: block(b.inbox), rings: jsDrivers, ringBytes: block(b.ring), statsBlocks: drivers, statsBytes: block(b.stats) };
  return { ...f, bytes: f.inboxes * f.inboxBytes + f.rings * f.ringBytes + f.statsBlocks * f.statsBytes };
}
