// The runtime part of a gatio config: which task modules the drivers load,
// the task queues each driver has, and the loop's knobs. Checked together
// with the TPC part (validate.ts calls checkRuntimeSettings), so `gatio plan`
// reports every problem of a config at once.
import { isObject, unknownKeys as reportUnknownKeys, type IssueSink } from './issues.js';

/** The shares a queue may have: config validation and every driver's scheduler check the same range. */
export const MIN_SHARES = 0.001;
export const MAX_SHARES = 1e6;

export interface TaskQueueSettings {
  /** CPU share relative to the driver's other queues; default 1, from 0.001 to 1e6 */
  shares?: number;
  /** latency class: work in this queue should start within maxDelayMs */
  latency?: { maxDelayMs: number };
}

export interface RuntimeKnobs {
  /** microseconds an idle driver polls its inbox and ring before parking (default 50) */
  spinUs?: number;
  /** slots of each driver's inbox queue (power of two; default 4096) */
  inboxSlots?: number;
  /** bytes per inbox slot; larger messages go through an arena block (default 256) */
  slotBytes?: number;
  /** scheduler quantum in ms (default 1) */
  quantumMs?: number;
  /** a TPC spills new tasks to another TPC only when all its drivers have more than this many pending (default 64) */
  spillThreshold?: number;
  /** restart a driver that died, on the same PU (default true) */
  restart?: boolean;
  /** SQ entries of each driver's ring (power of two; default 256) */
  ringEntries?: number;
  /**
   * 'spare' (default): while the runtime runs, the main thread (and threads
   * it starts later, such as libuv's pool) may only run on allowed PUs that
   * no driver uses, when there are any, so it never time-slices with a
   * driver; 'any': leave its affinity alone.
   */
  mainAffinity?: 'spare' | 'any';
  /** a loop turn longer than this many ms is reported as a stall (the runtime's 'stall' event, with the task); 0: never (default 100) */
  stallMs?: number;
  /**
   * While the runtime runs, the drivers' CPUs may only enter idle states
   * that wake within this many µs (the kernel's per-CPU PM QoS bound; 0:
   * they poll instead of halting). Parked drivers then wake fast, at the
   * cost of cores that never power down. Needs root. Default null: the
   * kernel chooses (wake-latency.ts, docs/runtime.md).
   */
  wakeLatencyUs?: number | null;
}

export interface RuntimeSettings {
  modules: string[];
  queues: Record<string, Required<Pick<TaskQueueSettings, 'shares'>> & Pick<TaskQueueSettings, 'latency'>>;
  knobs: Required<RuntimeKnobs>;
}

const KNOB_KEYS = ['spinUs', 'inboxSlots', 'slotBytes', 'quantumMs', 'spillThreshold', 'restart', 'ringEntries', 'mainAffinity', 'stallMs', 'wakeLatencyUs'] as const;
const QUEUE_KEYS = ['shares', 'latency'] as const;

const DEFAULT_KNOBS: Required<RuntimeKnobs> = {
  spinUs: 50,
  inboxSlots: 4096,
  slotBytes: 256,
  quantumMs: 1,
  spillThreshold: 64,
  restart: true,
  ringEntries: 256,
  mainAffinity: 'spare',
  stallMs: 100,
  wakeLatencyUs: null,
};

const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Unknown keys of a runtime level; without a close match the message lists the expected keys. */
function unknownKeys(obj: Record<string, unknown>, path: string, keys: readonly string[], error: IssueSink): void {
  reportUnknownKeys(obj, path, keys, error, () => ` (expected ${keys.join(', ')})`);
}

/** Checks modules / queues / runtime of a config; reports problems through `error` and returns usable settings. */
export function checkRuntimeSettings(cfg: Record<string, unknown>, error: IssueSink): RuntimeSettings {
  const out: RuntimeSettings = { modules: [], queues: { default: { shares: 1 } }, knobs: { ...DEFAULT_KNOBS } };

  if (cfg.modules !== undefined) {
    if (!Array.isArray(cfg.modules)) error('modules', 'expected a list of task module paths', cfg.modules);
    else
      cfg.modules.forEach((m, i) => {
        if (typeof m !== 'string' || m === '') error(`modules[${i}]`, 'expected a module path or URL string', m);
        else out.modules.push(m);
      });
  }

  if (cfg.queues !== undefined) {
    if (!isObject(cfg.queues)) error('queues', 'expected an object of task queues, like { "batch": { "shares": 1 }, "rpc": { "latency": { "maxDelayMs": 5 } } }', cfg.queues);
    else
      for (const [name, q] of Object.entries(cfg.queues)) {
        const path = `queues.${name}`;
        if (!isObject(q)) {
          error(path, 'expected { shares?, latency? }', q);
          continue;
        }
        unknownKeys(q, path, QUEUE_KEYS, error);
        const shares = q.shares ?? 1;
        // The scheduler's range: a value outside it would pass here and fail every driver's start.
        if (typeof shares !== 'number' || !Number.isFinite(shares) || shares < MIN_SHARES || shares > MAX_SHARES) {
          error(`${path}.shares`, `expected a positive number from ${MIN_SHARES} to ${MAX_SHARES}`, q.shares);
        }
        let latency: { maxDelayMs: number } | undefined;
        if (q.latency !== undefined) {
          const d = isObject(q.latency) ? q.latency.maxDelayMs : undefined;
          if (!isObject(q.latency) || typeof d !== 'number' || !Number.isFinite(d) || d <= 0) {
            error(`${path}.latency`, 'expected { "maxDelayMs": <positive number> }', q.latency);
          } else {
            unknownKeys(q.latency, `${path}.latency`, ['maxDelayMs'], error);
            latency = { maxDelayMs: d };
          }
        }
        out.queues[name] = latency ? { shares: Number(shares), latency } : { shares: Number(shares) };
      }
  }

  if (cfg.runtime !== undefined) {
    if (!isObject(cfg.runtime)) error('runtime', `expected an object with ${KNOB_KEYS.join(', ')}`, cfg.runtime);
    else {
      const r = cfg.runtime;
      unknownKeys(r, 'runtime', KNOB_KEYS, error);
      const num = (k: keyof RuntimeKnobs, ok: (n: number) => boolean, why: string) => {
        const v = r[k];
        if (v === undefined) return;
        if (typeof v !== 'number' || !ok(v)) error(`runtime.${k}`, why, v);
        else (out.knobs[k] as number) = v;
      };
      num('spinUs', (n) => Number.isFinite(n) && n >= 0 && n <= 1e6, 'expected microseconds from 0 to 1000000');
      num('inboxSlots', (n) => isPow2(n) && n >= 16 && n <= 1 << 20, 'expected a power of two from 16 to 1048576');
      num('slotBytes', (n) => Number.isInteger(n) && n % 8 === 0 && n >= 64 && n <= 65536, 'expected a multiple of 8 from 64 to 65536');
      num('quantumMs', (n) => Number.isFinite(n) && n > 0 && n <= 1000, 'expected milliseconds, more than 0 and at most 1000');
      num('spillThreshold', (n) => Number.isInteger(n) && n >= 0, 'expected a whole number of pending tasks');
      num('ringEntries', (n) => isPow2(n) && n >= 8 && n <= 32768, 'expected a power of two from 8 to 32768');
      num('stallMs', (n) => Number.isFinite(n) && n >= 0 && n <= 3_600_000, 'expected milliseconds from 0 (never) to 3600000');
      if (r.wakeLatencyUs !== undefined && r.wakeLatencyUs !== null) {
        const v = r.wakeLatencyUs;
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 1e6) error('runtime.wakeLatencyUs', 'expected whole microseconds from 0 (the cores poll when idle) to 1000000, or null (the kernel chooses)', v);
        else out.knobs.wakeLatencyUs = v;
      }
      if (r.mainAffinity !== undefined) {
        if (r.mainAffinity !== 'spare' && r.mainAffinity !== 'any') error('runtime.mainAffinity', 'expected "spare" or "any"', r.mainAffinity);
        else out.knobs.mainAffinity = r.mainAffinity;
      }
      if (r.restart !== undefined) {
        if (typeof r.restart !== 'boolean') error('runtime.restart', 'expected true or false', r.restart);
        else out.knobs.restart = r.restart;
      }
    }
  }
  return out;
}
