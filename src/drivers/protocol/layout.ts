// The runtime's shared memory, laid out by the main thread at start and
// handed to every driver as plain data (workerData): which arena each TPC
// has, where each endpoint's inbox queue and each driver's published load
// live inside those arenas, and the eventfd each consumer parks on.
//
// Endpoint 0 is the main thread; driver d is endpoint d + 1 (protocol/messages.ts).
import type { PlannedDriver } from '../../tpc/plan.js';
import type { RuntimeSettings } from '../../tpc/settings.js';

/** A place in a TPC's arena: the index of the TPC (= of its arena) and a byte offset. */
export interface ArenaRef {
  tpc: number;
  offset: number;
}

/** A planned driver, plus where its inbox and stats block live. */
export interface DriverLayout extends PlannedDriver {
  /** this driver's inbox (also endpoint id + 1 in `endpoints`) */
  inbox: ArenaRef;
  /** STATS_SLOTS Float64 values this driver publishes; see Stat */
  stats: ArenaRef;
}

export interface Layout {
  /** arena id of each TPC, by TPC index */
  arenas: number[];
  /** inbox of each endpoint: [main, driver 0, driver 1, ...] */
  endpoints: ArenaRef[];
  drivers: DriverLayout[];
  settings: RuntimeSettings;
  /** sorted task queue names; a SPAWN names its queue by index in this list */
  queues: string[];
  /** task module URLs every exec/hybrid driver imports */
  modules: string[];
  /** the main thread's TPC: where its spawns go by default */
  mainTpc: number;
}

/** What each driver publishes about itself, as Float64 slots (one writer: the driver; main writes Alive). Slots 1 and 14 are unused. */
export const enum Stat {
  Alive = 0,
  /** tasks received and not finished */
  Pending = 2,
  TasksRun = 3,
  /** fraction of recent time spent busy (EWMA), 0..1 */
  Busy = 4,
  Parks = 5,
  Wakeups = 6,
  Turns = 7,
  Messages = 8,
  RingSubmissions = 9,
  RingCompletions = 10,
  Tid = 11,
  Cpu = 12,
  TasksFailed = 13,
  /** Date.now() of the last published update */
  Updated = 15,
  /** wall-clock ms (performance.timeOrigin + now) when the current loop turn began; 0 between turns */
  TurnStart = 16,
  /** the task whose synchronous part runs now: its index + 1 (Mailbox.taskNames); 0 for none */
  RunningTask = 17,
  /** loop turns longer than runtime.stallMs */
  Stalls = 18,
}
export const STATS_SLOTS = 32;
export const STATS_BYTES = STATS_SLOTS * 8;

/** workerData of a driver thread (main/runtime.ts -> thread/worker-entry.ts). */
export interface DriverInit {
  layout: Layout;
  id: number;
  /** eventfd the inbox's producers and the ring signal; owned by the main thread */
  eventfd: number;
  generation: number;
}

/** A driver thread's first message to the main thread: it is running and defines these tasks. */
/** A value a driver's thread threw, as plain data for the main thread (worker-entry.ts). */
export interface ThrownValue {
  name: string;
  message: string;
  stack?: string;
  code?: string | number;
  cause?: ThrownValue;
  /** what was thrown, when it was not an Error */
  value?: unknown;
}

/** From a driver's thread that could not start: the task module it was importing and what it threw. */
export interface FailedMessage {
  type: 'failed';
  module: string | undefined;
  error: ThrownValue;
}

export interface ReadyMessage {
  type: 'ready';
  tasks: string[];
  tid: number;
}
