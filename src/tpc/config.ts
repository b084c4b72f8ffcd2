// The declarative configuration of TPCs and drivers: plain data (JSON or a
// JS module), checked by validate.ts and turned into a plan by plan.ts.
// docs/config.md is the user-facing description; keep the two in step.
//
// Numbering follows topology.ts: cores by hwloc logical index (0..n-1 across
// the machine), PUs by OS index, NUMA nodes by OS index.

import type { RuntimeKnobs, TaskQueueSettings } from './settings.js';

import type { PortConfig } from './ports.js';
export type DriverKind = 'io' | 'exec' | 'hybrid';

/**
 * Which cores: a list of core ids, a cpulist string ("0-7,16-23"), or a
 * count (the first N allowed, unreserved cores: of the TPC's node for a TPC,
 * of the machine for the top-level `reserve`).
 */
export type CoreSpec = number[] | string | number;

/** Bytes, or a size string such as "256MiB" (see size.ts). */
export type Size = number | string;

/**
 * How drivers map onto hardware threads:
 * - 'core': one driver per physical core, on its first allowed PU (the default);
 * - 'thread': one driver per allowed hardware thread;
 * - 'split': on a core with >= 2 allowed PUs, an io driver on the first and an
 *   exec driver on the second sibling (they share L1/L2); a 1-PU core gets a hybrid.
 */
export type SmtPolicy = 'core' | 'thread' | 'split';

/**
 * Which kind each driver slot gets:
 * - a kind: every slot;
 * - counts per kind: slots taken in core/PU order, io first, then exec, then hybrid;
 * - perCore: keys are core ids or cpulists, values the kind for that core's slot(s);
 *   cores not named get 'hybrid'.
 */
export type DriversSpec =
  | DriverKind
  | { io?: number; exec?: number; hybrid?: number }
  | { perCore: Record<string, DriverKind> };

export interface TpcConfig {
  /** default "tpc<i>" */
  name?: string;
  /** NUMA node OS index; when omitted, derived from the cores */
  node?: number;
  /** default: every allowed core of the node that no other TPC claims */
  cores?: CoreSpec;
  /** cores of this TPC left without drivers (main thread, OS) */
  reserve?: CoreSpec;
  /** default: defaultArenaBytes(node memory) */
  arena?: Size;
  /** touch every arena page at start so it is resident on the node; default false */
  prefault?: boolean;
  /** default: the top-level smt, else 'core' */
  smt?: SmtPolicy;
  /** default: the top-level drivers, else 'hybrid' */
  drivers?: DriversSpec;
}

export interface GatioConfig {
  /** task modules every exec/hybrid driver imports (they call defineTask); relative paths are from the config file, else the working directory */
  modules?: string[];
  /** task queues of every driver, by name; "default" (shares 1) always exists */
  queues?: Record<string, TaskQueueSettings>;
  /** the driver loop's knobs */
  runtime?: RuntimeKnobs;
  /** default 'auto': one TPC per NUMA node with allowed cores */
  tpcs?: 'auto' | TpcConfig[];
  smt?: SmtPolicy;
  /** cores no driver may use, machine-wide (a count: the first N allowed cores) */
  reserve?: CoreSpec;
  arena?: Size;
  drivers?: DriversSpec;
  prefault?: boolean;
  /** port servers (TCP, UDP) and the drivers that serve each: tpc/ports.ts, docs/net.md */
  ports?: PortConfig[];
}

export const DRIVER_KINDS: readonly DriverKind[] = ['io', 'exec', 'hybrid'];
export const SMT_POLICIES: readonly SmtPolicy[] = ['core', 'thread', 'split'];
export const DEFAULT_SMT: SmtPolicy = 'core';
export const DEFAULT_DRIVER_KIND: DriverKind = 'hybrid';

/** Keys each level accepts; anything else is an error (with a did-you-mean). */
export const CONFIG_KEYS = ['tpcs', 'smt', 'reserve', 'arena', 'drivers', 'prefault', 'modules', 'queues', 'runtime', 'ports'] as const;
export const TPC_KEYS = ['name', 'node', 'cores', 'reserve', 'arena', 'prefault', 'smt', 'drivers'] as const;
export const DRIVER_COUNT_KEYS = ['io', 'exec', 'hybrid'] as const;

const MiB = 1024 * 1024;
/** Arenas are sized in huge-page units so they can be backed by 2 MiB pages. */
export const ARENA_ALIGN = 2 * MiB;
/** The default arena never exceeds this. */
export const DEFAULT_ARENA_MAX = 1024 * MiB;

/**
 * The default arena size for a TPC on a node with `nodeMemory` bytes:
 * min(1 GiB, nodeMemory / 16), rounded down to a multiple of 2 MiB, at least 2 MiB.
 */
export function defaultArenaBytes(nodeMemory: number): number {
  const share = Math.min(DEFAULT_ARENA_MAX, Math.floor(nodeMemory / 16));
  return Math.max(ARENA_ALIGN, Math.floor(share / ARENA_ALIGN) * ARENA_ALIGN);
}

export { ConfigError, formatIssue, formatIssues, isObject, unknownKeys } from './issues.js';
export type { ConfigIssue, IssueSink } from './issues.js';
