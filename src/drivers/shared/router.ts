// Where a spawned task runs. Decisions read only the load that each driver
// publishes in shared memory (no locks, no messages), and are counted by
// reason so that stats() can show how work was routed.
//
// - `driver`: that driver, if it is alive and runs JavaScript.
// - `key`: rendezvous (highest-random-weight) hashing over the live
//   JavaScript drivers: the same key goes to the same driver while that
//   driver is alive, and when it dies only its keys move.
// - otherwise the least-loaded live driver of the caller's TPC (or the TPC
//   asked for); when every driver there has more than `spillThreshold`
//   tasks pending, the least-loaded driver of any TPC, if that one is below
//   the threshold ("spill").

export interface DriverLoad {
  alive: boolean;
  /** tasks received and not yet finished, plus messages waiting in its inbox */
  pending: number;
  /** recent fraction of time busy, 0..1 */
  busy: number;
}

export interface RouteTarget {
  id: number;
  tpc: number;
  /** false for io drivers: they run no JavaScript */
  runsTasks: boolean;
}

export type RouteReason = 'driver' | 'key' | 'local' | 'tpc' | 'spill';

export interface RouteOptions {
  driver?: number;
  tpc?: number;
  key?: string | number;
  /** the caller's TPC (the main thread counts as TPC 0 unless configured) */
  fromTpc: number;
  /**
   * A driver to pass over when another is as good: the one pinned to the
   * CPU the (unpinned) caller runs on, which would time-slice with it.
   */
  avoid?: number;
}

/** No driver can take the call: the one asked for is down or does not exist, or a TPC has none running. */
export class RouteError extends Error {
  override readonly name = 'RouteError';
  readonly code = 'GATIO_NO_DRIVER';
}

export class Router {
  readonly decisions: Record<RouteReason, number> = { driver: 0, key: 0, local: 0, tpc: 0, spill: 0 };
  private readonly byTpc = new Map<number, RouteTarget[]>();
  /** per TPC, the JS drivers of every other TPC: where it spills */
  private readonly elsewhere = new Map<number, RouteTarget[]>();
  private readonly byId: (RouteTarget | undefined)[] = [];
  private readonly tasks: RouteTarget[];
  private rr = 0;
  private last = -1;
  /** the pending count of what leastLoaded() returned last */
  private bestPending = 0;

  constructor(
    targets: RouteTarget[],
    private readonly load: (id: number) => DriverLoad,
    private readonly spillThreshold: number,
    /** runtime.restart: whether a dead driver comes back (what the error for one says) */
    private readonly restarts = true,
  ) {
    this.tasks = targets.filter((t) => t.runsTasks);
    for (const t of this.tasks) {
      const list = this.byTpc.get(t.tpc) ?? [];
      list.push(t);
      this.byTpc.set(t.tpc, list);
      this.byId[t.id] = t;
    }
  }

  route(opts: RouteOptions): { driver: number; reason: RouteReason } {
    if (opts.driver !== undefined) {
      const t = Number.isInteger(opts.driver) ? this.byId[opts.driver] : undefined;
      if (!t) throw new RouteError(`driver ${opts.driver} does not exist or runs no JavaScript (an io driver)`);
      if (!this.load(t.id).alive) {
        throw new RouteError(
          this.restarts ? `driver ${opts.driver} is not running (it died and has not restarted yet)` : `driver ${opts.driver} is not running: it died and is not restarted (runtime.restart is false)`,
        );
      }
      return this.count(t.id, 'driver');
    }
    if (opts.key !== undefined) {
      const pool = opts.tpc === undefined ? this.tasks : this.tpcTargets(opts.tpc);
      const live = pool.filter((t) => this.load(t.id).alive);
      if (live.length === 0) throw new RouteError('no live driver to run the task');
      return this.count(rendezvous(String(opts.key), live.map((t) => t.id)), 'key');
    }
    if (opts.tpc !== undefined) {
      const best = this.leastLoaded(this.tpcTargets(opts.tpc));
      if (best === undefined) throw new RouteError(`TPC ${opts.tpc} has no live driver that runs JavaScript`);
      return this.count(best.id, 'tpc');
    }
    const local = this.leastLoaded(this.byTpc.get(opts.fromTpc) ?? [], opts.avoid);
    const localPending = this.bestPending;
    if (local !== undefined && localPending <= this.spillThreshold) return this.count(local.id, 'local');
    // Every local driver is above the threshold (or the TPC has none): look further.
    let others = this.elsewhere.get(opts.fromTpc);
    if (!others) this.elsewhere.set(opts.fromTpc, (others = this.tasks.filter((t) => t.tpc !== opts.fromTpc)));
    const remote = this.leastLoaded(others);
    if (remote !== undefined && (local === undefined || (this.bestPending <= this.spillThreshold && this.bestPending < localPending))) {
      return this.count(remote.id, 'spill');
    }
    if (local === undefined) throw new RouteError('no live driver to run the task');
    return this.count(local.id, 'local');
  }

  private tpcTargets(tpc: number): RouteTarget[] {
    const list = this.byTpc.get(tpc);
    if (!list) throw new RouteError(`TPC ${tpc} does not exist or has no driver that runs JavaScript`);
    return list;
  }

  /**
   * Least pending, then least busy. Among idle drivers (nothing pending)
   * the one used last wins: it is the one most likely still spinning, with
   * warm caches, so back-to-back calls stay hot. Other ties rotate, so a
   * burst spreads over equal drivers.
   */
  private leastLoaded(list: RouteTarget[], avoid = -1): RouteTarget | undefined {
    // Allocation-free: this runs once per spawn (the lists it gets are built once).
    let best: RouteTarget | undefined;
    let bestPending = 0;
    let bestBusy = 0;
    const n = list.length;
    const start = n ? this.rr++ % n : 0;
    for (let i = 0; i < n; i++) {
      const t = list[(start + i) % n]!;
      const l = this.load(t.id);
      if (!l.alive) continue;
      // The avoided driver loses ties: half a task heavier.
      const pending = t.id === avoid ? l.pending + 0.5 : l.pending;
      if (!best || pending < bestPending || (pending === bestPending && l.busy < bestBusy - 0.05)) {
        best = t;
        bestPending = pending;
        bestBusy = l.busy;
      }
    }
    if (best && bestPending === 0 && best.id !== this.last && this.last !== avoid) {
      for (const t of list) {
        if (t.id !== this.last) continue;
        const l = this.load(t.id);
        if (l.alive && l.pending === 0) best = t;
        break;
      }
    }
    if (best) this.last = best.id;
    this.bestPending = bestPending;
    return best;
  }

  private count(driver: number, reason: RouteReason): { driver: number; reason: RouteReason } {
    this.decisions[reason]++;
    return { driver, reason };
  }
}

/** Rendezvous hashing: the candidate with the highest hash(key, candidate). */
export function rendezvous(key: string, candidates: number[]): number {
  const h = fnv1a(key);
  let best = candidates[0]!;
  let bestScore = -1;
  for (const c of candidates) {
    const score = fmix32(h ^ Math.imul(c + 1, 0x9e3779b1));
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's finaliser: spreads every input bit over the output. */
function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}
