// Checks a GatioConfig against a topology and resolves it: which cores,
// PUs, node, arena and driver kinds each TPC gets. Checking and resolving
// are one pass so that the planner can never accept what validation rejects
// (plan.ts only numbers and names what this file resolves).
//
// Every problem is recorded with its path and the pass keeps going, so the
// user sees all of them at once. Values that failed their check are treated
// as "not given" afterwards, which keeps one mistake from cascading into a
// dozen derived ones.
import type { Core, NumaNode, Topology } from './topology.js';
import { formatList, parseList } from './cpuset.js';
import { formatSize, parseSize } from './size.js';
import {
  CONFIG_KEYS,
  DEFAULT_DRIVER_KIND,
  DEFAULT_SMT,
  DRIVER_COUNT_KEYS,
  DRIVER_KINDS,
  SMT_POLICIES,
  TPC_KEYS,
  defaultArenaBytes,
  ARENA_ALIGN,
  isObject,
  unknownKeys,
  type ConfigIssue,
  type DriverKind,
  type SmtPolicy,
} from './config.js';
import { didYouMean, suggestion } from './did-you-mean.js';
import { checkRuntimeSettings, type RuntimeSettings } from './settings.js';
import { runtimeFootprint } from './footprint.js';
import { portBufferBytes, resolvePorts, type ResolvedPort } from './ports.js';

export interface ValidationResult {
  ok: boolean;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

/** One driver's place: the core, the PU (OS index) and the kind it runs. */
export interface Slot {
  core: number;
  pu: number;
  kind: DriverKind;
}

/** A TPC as the config resolves it (before plan.ts gives ids and names to drivers). */
export interface ResolvedTpc {
  name: string;
  node: number;
  nodes: number[];
  /** cores that may carry drivers (reserved ones removed) */
  cores: number[];
  /** this TPC's own reserve */
  reserved: number[];
  arenaBytes: number;
  prefault: boolean;
  smt: SmtPolicy;
  /** the slots that get a driver, in core/PU order */
  slots: Slot[];
}

export interface Resolution extends ValidationResult {
  /** meaningful only when ok */
  tpcs: ResolvedTpc[];
  /** the port servers and their drivers (meaningful only when ok) */
  ports: ResolvedPort[];
  /** the machine-wide reserve */
  reserved: number[];
}

/** Checks a config against a topology; reports every error and warning at once. */
export function validateConfig(config: unknown, topo: Topology): ValidationResult {
  const { ok, errors, warnings } = resolveConfig(config, topo);
  return { ok, errors, warnings };
}

// ---------------------------------------------------------------------------
// Slots: which PUs of a TPC's cores carry drivers under each SMT policy.

/** The core's PUs this process may use, ascending. */
function allowedPus(topo: Topology, core: Core): number[] {
  return core.pus.filter((p) => topo.allowed.pus.includes(p));
}

/**
 * The driver slots of `cores` under `smt`, in core/PU order. Kinds are only
 * decided here for 'split'; for the other policies they are placeholders
 * that the drivers spec overwrites.
 */
function driverSlots(topo: Topology, cores: number[], smt: SmtPolicy): Slot[] {
  const byId = new Map(topo.cores.map((c) => [c.id, c]));
  const slots: Slot[] = [];
  for (const id of cores) {
    const pus = allowedPus(topo, byId.get(id)!);
    if (pus.length === 0) continue;
    if (smt === 'core') slots.push({ core: id, pu: pus[0]!, kind: DEFAULT_DRIVER_KIND });
    else if (smt === 'thread') for (const pu of pus) slots.push({ core: id, pu, kind: DEFAULT_DRIVER_KIND });
    else if (pus.length >= 2) {
      slots.push({ core: id, pu: pus[0]!, kind: 'io' });
      slots.push({ core: id, pu: pus[1]!, kind: 'exec' });
    } else slots.push({ core: id, pu: pus[0]!, kind: 'hybrid' });
  }
  return slots;
}

// ---------------------------------------------------------------------------
// Small helpers for messages.

/** A value as it appears in a message: strings quoted, long values cut. */
function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    s = undefined;
  }
  if (s === undefined) s = String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** "core 3" / "cores 2-3,8" */
function coresWord(cores: number[]): string {
  return cores.length === 1 ? `core ${cores[0]}` : `cores ${formatList(cores)}`;
}

function quoteList(xs: readonly string[]): string {
  const q = xs.map((x) => `"${x}"`);
  return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

const DRIVERS_EXPECTED = `${quoteList(DRIVER_KINDS)}, counts like { "io": 2, "exec": 6 } or { "perCore": { "0-1": "io" } }`;
const SPLIT_DECIDES = "split decides the kinds (io on each core's first hardware thread, exec on its sibling)";
const CORESPEC_EXPECTED = 'a core count, a list of core ids, or a cpulist string like "0-7,16-23"';

// ---------------------------------------------------------------------------
// The checker.

/** A core spec after parsing: explicit cores (all existing) or a count. */
type CoreSel = { kind: 'list'; cores: number[] } | { kind: 'count'; count: number };

type DriversSel =
  | { mode: 'kind'; kind: DriverKind }
  | { mode: 'counts'; counts: Record<DriverKind, number> }
  | { mode: 'perCore'; entries: { key: string; cores: number[]; kind: DriverKind }[] };

/** A setting's effective value and where it came from (for error paths). */
interface Setting<T> {
  value: T;
  /** path of the key that set it, or undefined for the built-in default */
  path: string | undefined;
}

/** A TPC while it is being resolved. */
interface Draft {
  path: string;
  /** how messages about inherited settings name this TPC */
  label: string;
  auto: boolean;
  name: string;
  node: number | undefined;
  /** whether node was given (and valid); cores elsewhere are then an error, not a warning */
  nodeGiven: boolean;
  /** undefined: cores omitted (all of the node); null: invalid */
  coresSel: CoreSel | undefined | null;
  reserveSel: CoreSel | undefined | null;
  cores: number[];
  reserved: number[];
  /** false once this TPC's cores could not be resolved (its later checks are skipped) */
  resolved: boolean;
  own: { smt?: SmtPolicy; arena?: number; drivers?: DriversSel; prefault?: boolean };
  invalid: Set<string>;
  /** the TPC as written (empty for auto TPCs), for issue values */
  raw: Record<string, unknown>;
}

class Checker {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];
  private readonly seen = new Set<string>();
  readonly cores: Map<number, Core>;
  readonly nodes: Map<number, NumaNode>;
  readonly allowedCores: number[];

  constructor(readonly topo: Topology) {
    this.cores = new Map(topo.cores.map((c) => [c.id, c]));
    this.nodes = new Map(topo.nodes.map((n) => [n.os, n]));
    this.allowedCores = topo.cores.filter((c) => c.allowed).map((c) => c.id);
  }

  error(path: string, message: string, value?: unknown): void {
    this.add(this.errors, path, message, value);
  }

  warn(path: string, message: string, value?: unknown): void {
    this.add(this.warnings, path, message, value);
  }

  private add(list: ConfigIssue[], path: string, message: string, value: unknown): void {
    const key = `${list === this.errors ? 'E' : 'W'}\0${path}\0${message}`;
    if (this.seen.has(key)) return; // settings inherited by several TPCs report once
    this.seen.add(key);
    list.push(value === undefined ? { path, message } : { path, message, value });
  }

  unknownKeys(obj: Record<string, unknown>, path: string, known: readonly string[], hint?: (key: string) => string | undefined): void {
    unknownKeys(obj, path, known, (p, message, value) => this.error(p, message, value), hint);
  }

  smt(v: unknown, path: string): SmtPolicy | undefined {
    if (v === undefined) return undefined;
    if (typeof v === 'string' && (SMT_POLICIES as readonly string[]).includes(v)) return v as SmtPolicy;
    const sugg = typeof v === 'string' ? suggestion(v, SMT_POLICIES) : '';
    this.error(path, `expected ${quoteList(SMT_POLICIES)}, got ${show(v)}${sugg}`, v);
    return undefined;
  }

  bool(v: unknown, path: string): boolean | undefined {
    if (v === undefined || typeof v === 'boolean') return v;
    this.error(path, `expected true or false, got ${show(v)}`, v);
    return undefined;
  }

  arena(v: unknown, path: string): number | undefined {
    if (v === undefined) return undefined;
    let bytes: number;
    try {
      bytes = parseSize(v);
    } catch (err) {
      this.error(path, (err as Error).message, v);
      return undefined;
    }
    if (bytes === 0) {
      this.error(path, `the arena must be larger than 0 bytes (got ${show(v)})`, v);
      return undefined;
    }
    return bytes;
  }

  /** Parses a CoreSpec; a list keeps only existing cores (the others are reported). */
  coreSpec(v: unknown, path: string): CoreSel | undefined | null {
    if (v === undefined) return undefined;
    if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= 0) return { kind: 'count', count: v };
      this.error(path, `expected ${CORESPEC_EXPECTED}, got ${show(v)} (a count must be a whole number >= 0)`, v);
      return null;
    }
    let ids: number[];
    if (typeof v === 'string') {
      try {
        ids = parseList(v);
      } catch (err) {
        this.error(path, (err as Error).message, v);
        return null;
      }
    } else if (Array.isArray(v)) {
      ids = [];
      let bad = false;
      v.forEach((x, i) => {
        if (typeof x === 'number' && Number.isInteger(x) && x >= 0) ids.push(x);
        else {
          bad = true;
          const hint = typeof x === 'string' && /^[\d\s,-]+$/.test(x) ? ` (a cpulist goes in one string instead of a list: "${x},...")` : '';
          this.error(`${path}[${i}]`, `expected a core number, got ${show(x)}${hint}`, x);
        }
      });
      if (bad) return null;
      ids = [...new Set(ids)].sort((a, b) => a - b);
    } else {
      this.error(path, `expected ${CORESPEC_EXPECTED}, got ${show(v)}`, v);
      return null;
    }
    const missing = ids.filter((id) => !this.cores.has(id));
    if (missing.length > 0) {
      const all = formatList(this.topo.cores.map((c) => c.id));
      this.error(path, `there ${missing.length === 1 ? 'is no' : 'are no'} ${coresWord(missing)} (this machine has cores ${all})`, v);
    }
    return { kind: 'list', cores: ids.filter((id) => this.cores.has(id)) };
  }

  kind(v: unknown, path: string): DriverKind | undefined {
    if (typeof v === 'string' && (DRIVER_KINDS as readonly string[]).includes(v)) return v as DriverKind;
    const sugg = typeof v === 'string' ? suggestion(v, DRIVER_KINDS) : '';
    this.error(path, `expected a driver kind (${quoteList(DRIVER_KINDS)}), got ${show(v)}${sugg}`, v);
    return undefined;
  }

  drivers(v: unknown, path: string): DriversSel | undefined {
    if (v === undefined) return undefined;
    if (typeof v === 'string') {
      if ((DRIVER_KINDS as readonly string[]).includes(v)) return { mode: 'kind', kind: v as DriverKind };
      this.error(path, `expected ${DRIVERS_EXPECTED}, got ${show(v)}${suggestion(v, DRIVER_KINDS)}`, v);
      return undefined;
    }
    if (!isObject(v)) {
      this.error(path, `expected ${DRIVERS_EXPECTED}, got ${show(v)}`, v);
      return undefined;
    }
    if ('perCore' in v) {
      const errorsBefore = this.errors.length;
      this.unknownKeys(v, path, ['perCore'], () => '; perCore cannot be combined with counts');
      const pc = v.perCore;
      const pcPath = `${path}.perCore`;
      if (!isObject(pc)) {
        this.error(pcPath, `expected an object mapping core ids or cpulists to driver kinds, like { "0-1": "io", "2-7": "exec" }, got ${show(pc)}`, pc);
        return undefined;
      }
      const entries: { key: string; cores: number[]; kind: DriverKind }[] = [];
      const firstKey = new Map<number, string>();
      for (const [key, kindValue] of Object.entries(pc)) {
        const kp = `${pcPath}[${JSON.stringify(key)}]`;
        const kind = this.kind(kindValue, kp);
        const sel = this.coreSpec(key, kp);
        if (!sel || sel.kind !== 'list' || kind === undefined) continue;
        const twice = sel.cores.filter((c) => firstKey.has(c));
        if (twice.length > 0) {
          const other = firstKey.get(twice[0]!)!;
          this.error(kp, `${coresWord(twice)} ${twice.length === 1 ? 'is' : 'are'} already given a kind by "${other}"`, key);
        }
        for (const c of sel.cores) if (!firstKey.has(c)) firstKey.set(c, key);
        entries.push({ key, cores: sel.cores, kind });
      }
      if (entries.length === 0 && this.errors.length === errorsBefore) {
        this.error(pcPath, 'names no core; give at least one, like { "0": "io" }', pc);
      }
      return this.errors.length === errorsBefore ? { mode: 'perCore', entries } : undefined;
    }
    const errorsBefore = this.errors.length;
    this.unknownKeys(v, path, [...DRIVER_COUNT_KEYS, 'perCore']);
    const counts: Record<DriverKind, number> = { io: 0, exec: 0, hybrid: 0 };
    for (const k of DRIVER_COUNT_KEYS) {
      const n = v[k];
      if (n === undefined) continue;
      if (typeof n === 'number' && Number.isInteger(n) && n >= 0) counts[k] = n;
      else this.error(`${path}.${k}`, `expected a driver count (a whole number >= 0), got ${show(n)}`, n);
    }
    if (this.errors.length !== errorsBefore) return undefined;
    if (counts.io + counts.exec + counts.hybrid === 0) {
      this.error(path, 'asks for no drivers at all; give at least one count, like { "hybrid": 4 }', v);
      return undefined;
    }
    return { mode: 'counts', counts };
  }

  /** Message for cores that are on another node than the TPC's. */
  wrongNode(cores: number[], node: number): string[] {
    const byNode = new Map<number, number[]>();
    for (const c of cores) {
      const n = this.cores.get(c)!.node;
      byNode.set(n, [...(byNode.get(n) ?? []), c]);
    }
    const nodeCores = formatList(this.nodes.get(node)?.cores ?? []);
    return [...byNode.keys()]
      .sort((a, b) => a - b)
      .map((n) => {
        const cs = byNode.get(n)!;
        return `${coresWord(cs)} ${cs.length === 1 ? 'is' : 'are'} on NUMA node ${n}, not node ${node} (node ${node} has cores ${nodeCores})`;
      });
  }

  allowedCoresText(): string {
    return this.allowedCores.length === 0 ? 'none' : formatList(this.allowedCores);
  }
}

// ---------------------------------------------------------------------------
// The pass.

/** Checks and resolves a config. Pure: same (config, topology), same result. */
export function resolveConfig(config: unknown, topo: Topology): Resolution {
  const ck = new Checker(topo);
  const fail = (): Resolution => ({ ok: false, errors: ck.errors, warnings: ck.warnings, tpcs: [], ports: [], reserved: [] });
  const cfg = config ?? {};
  if (!isObject(cfg)) {
    ck.error('', `expected a config object, got ${Array.isArray(cfg) ? 'a list' : show(cfg)}`, cfg);
    return fail();
  }

  // Top level: keys that belong in a TPC get a pointer to where they go.
  ck.unknownKeys(cfg, '', CONFIG_KEYS, (key) => {
    const tpcKey = (TPC_KEYS as readonly string[]).includes(key) ? key : didYouMean(key, TPC_KEYS);
    return tpcKey !== undefined && !(CONFIG_KEYS as readonly string[]).includes(tpcKey)
      ? `; "${tpcKey}" is a TPC setting: put it in a TPC, like "tpcs": [{ "${tpcKey}": ... }]`
      : undefined;
  });
  const runtime = checkRuntimeSettings(cfg, (path, message, value) => ck.error(path, message, value));
  const global = {
    smt: ck.smt(cfg.smt, 'smt'),
    arena: ck.arena(cfg.arena, 'arena'),
    drivers: ck.drivers(cfg.drivers, 'drivers'),
    prefault: ck.bool(cfg.prefault, 'prefault'),
  };

  // Machine-wide reserve: a count takes the first N allowed cores.
  const reserveSel = ck.coreSpec(cfg.reserve, 'reserve');
  let globalReserved: number[] = [];
  if (reserveSel?.kind === 'list') globalReserved = reserveSel.cores;
  else if (reserveSel?.kind === 'count') {
    if (reserveSel.count > ck.allowedCores.length) {
      ck.error('reserve', `asks for ${plural(reserveSel.count, 'core')} but only ${ck.allowedCores.length} ${ck.allowedCores.length === 1 ? 'is' : 'are'} allowed (cores ${ck.allowedCoresText()})`, cfg.reserve);
    } else globalReserved = ck.allowedCores.slice(0, reserveSel.count);
  }
  const isGloballyReserved = new Set(globalReserved);
  if (global.smt === 'split' && global.drivers !== undefined) {
    ck.error('drivers', `cannot be combined with smt "split": ${SPLIT_DECIDES}`, cfg.drivers);
  }

  // TPCs: 'auto' builds them from the nodes; a list is parsed entry by entry.
  const drafts: Draft[] = [];
  const tpcsValue = cfg.tpcs ?? 'auto';
  if (tpcsValue === 'auto') autoDrafts(ck, drafts, isGloballyReserved, cfg.reserve !== undefined);
  else if (Array.isArray(tpcsValue)) {
    if (tpcsValue.length === 0) ck.error('tpcs', 'empty list: give at least one TPC, or "auto"', tpcsValue);
    tpcsValue.forEach((t, i) => {
      const d = parseTpc(ck, t, i);
      if (d) drafts.push(d);
    });
    resolveExplicitCores(ck, drafts, isGloballyReserved);
  } else {
    const sugg = typeof tpcsValue === 'string' ? suggestion(tpcsValue, ['auto']) : '';
    ck.error('tpcs', `expected "auto" or a list of TPCs, got ${show(tpcsValue)}${sugg}`, tpcsValue);
  }

  // Names are unique (drivers are named "<tpc>/<kind><n>").
  const nameOwner = new Map<string, string>();
  for (const d of drafts) {
    const other = nameOwner.get(d.name);
    if (other !== undefined) ck.error(`${d.path}.name`, `name "${d.name}" is already used by ${other}`, d.name);
    else nameOwner.set(d.name, d.path);
  }

  // Per TPC: settings, arena, slots and kinds.
  const tpcs: ResolvedTpc[] = [];
  for (const d of drafts) {
    const t = finishTpc(ck, d, global, cfg, runtime.knobs, tpcs.length === 0);
    if (!t) continue;
    tpcs.push(t);
  }

  // A machine-wide perCore names cores of any TPC; each must belong to one.
  if (global.drivers?.mode === 'perCore' && drafts.every((d) => d.resolved)) {
    const driverCores = new Set(drafts.flatMap((d) => d.cores));
    for (const e of global.drivers.entries) {
      const stray = e.cores.filter((c) => !driverCores.has(c));
      if (stray.length > 0) {
        ck.error(`drivers.perCore[${JSON.stringify(e.key)}]`, `${coresWord(stray)} ${stray.length === 1 ? 'is' : 'are'} not a driver core of any TPC (driver cores: ${formatList(driverCores)})`, e.key);
      }
    }
  }

  // Allowed cores that nothing uses are probably a mistake (explicit TPCs only: auto uses them all).
  if (Array.isArray(tpcsValue) && drafts.length > 0 && drafts.every((d) => d.resolved)) {
    const used = new Set([...globalReserved, ...drafts.flatMap((d) => [...d.cores, ...d.reserved])]);
    const unused = ck.allowedCores.filter((c) => !used.has(c));
    if (unused.length > 0) {
      ck.warn('tpcs', `allowed ${coresWord(unused)} ${unused.length === 1 ? 'is' : 'are'} used by no TPC and not reserved (add ${unused.length === 1 ? 'it' : 'them'} to a TPC, or to reserve)`, formatList(unused));
    }
  }

  // Arenas of TPCs sharing a node should fit in it together.
  const byNode = new Map<number, ResolvedTpc[]>();
  for (const t of tpcs) byNode.set(t.node, [...(byNode.get(t.node) ?? []), t]);
  for (const [node, ts] of [...byNode].sort((a, b) => a[0] - b[0])) {
    const memory = ck.nodes.get(node)!.memory;
    const sum = ts.reduce((s, t) => s + t.arenaBytes, 0);
    if (ts.length > 1 && memory > 0 && sum > memory) {
      ck.warn('tpcs', `the arenas of ${ts.map((t) => t.name).join(', ')} add up to ${formatSize(sum)}, more than NUMA node ${node}'s memory (${formatSize(memory)})`);
    }
  }

  // Ports, once every TPC resolved (their drivers are what a port selects).
  let ports: ResolvedPort[] = [];
  if (drafts.length === tpcs.length) {
    ports = resolvePorts(cfg.ports, tpcs, (path, message, value) => ck.error(path, message, value));
    // io ports speak fixed-size messages with the io drivers; the largest (a listen) needs 160-byte slots.
    const ioPort = ports.findIndex((p) => p.drivers.some((id) => tpcs.flatMap((t) => t.slots)[id]?.kind === 'io'));
    if (ioPort >= 0 && runtime.knobs.slotBytes < 160) {
      ck.error('runtime.slotBytes', `ports[${ioPort}] is served by io drivers, whose messages need slots of at least 160 bytes; got ${runtime.knobs.slotBytes}`, runtime.knobs.slotBytes);
    }
    // Each driver's buffer rings come out of its TPC's arena, beside the runtime's own blocks.
    let id = 0;
    tpcs.forEach((t, ti) => {
      const jsDrivers = t.slots.filter((s) => s.kind !== 'io').length;
      const own = runtimeFootprint(runtime.knobs, t.slots.length, jsDrivers, ti === 0).bytes;
      let buffers = 0;
      for (let k = 0; k < t.slots.length; k++) buffers += portBufferBytes(ports, id++, ti);
      if (buffers > 0 && own + buffers > t.arenaBytes * 0.75) {
        ck.error('ports', `the buffer rings of ${t.name}'s drivers take ${formatSize(buffers)} of its ${formatSize(t.arenaBytes)} arena (with the runtime's ${formatSize(own)}, over 75%): use fewer or smaller buffers (ports[].buffers), or a larger arena`, formatSize(buffers));
      }
    });
  } else if (cfg.ports !== undefined && !Array.isArray(cfg.ports)) resolvePorts(cfg.ports, [], (path, message, value) => ck.error(path, message, value));

  // Issues were found phase by phase; users read them per place in the config.
  ck.errors.sort(byPath);
  ck.warnings.sort(byPath);
  if (ck.errors.length > 0) return fail();
  return { ok: true, errors: [], warnings: ck.warnings, tpcs, ports, reserved: globalReserved };
}

/** Orders issues by path, numbers by value ("tpcs[2]" before "tpcs[10]"); stable within a path. */
function byPath(a: ConfigIssue, b: ConfigIssue): number {
  const ta = a.path.match(/\d+|\D+/g) ?? [];
  const tb = b.path.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i]!;
    const y = tb[i]!;
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return ta.length - tb.length;
}

function newDraft(path: string, label: string, auto: boolean, name: string, raw: Record<string, unknown>): Draft {
  return {
    raw,
    path,
    label,
    auto,
    name,
    node: undefined,
    nodeGiven: false,
    coresSel: undefined,
    reserveSel: undefined,
    cores: [],
    reserved: [],
    resolved: false,
    own: {},
    invalid: new Set(),
  };
}

/** tpcs: 'auto': one TPC per NUMA node with allowed, unreserved cores. */
function autoDrafts(ck: Checker, drafts: Draft[], reserved: Set<number>, hasReserve: boolean): void {
  const nodes = [...ck.topo.nodes].sort((a, b) => a.os - b.os);
  const skipped: string[] = [];
  for (const n of nodes) {
    if (n.cores.length === 0) continue; // a memory-only node has nothing to run drivers on
    const allowed = n.cores.filter((c) => ck.cores.get(c)!.allowed);
    const free = allowed.filter((c) => !reserved.has(c));
    let why: string | undefined;
    if (allowed.length === 0) why = `none of its cores (${formatList(n.cores)}) is allowed for this process (allowed cores: ${ck.allowedCoresText()})`;
    else if (free.length === 0) why = `all its allowed cores (${formatList(allowed)}) are reserved`;
    else if (!n.allowed) why = `its memory is not allowed for this process (allowed nodes: ${formatList(ck.topo.allowed.nodes)}), so cores ${formatList(free)} stay unused`;
    if (why !== undefined) {
      ck.warn('tpcs', `NUMA node ${n.os} gets no TPC: ${why}`);
      skipped.push(why);
      continue;
    }
    const i = drafts.length;
    const d = newDraft('tpcs', `tpc${i} (node ${n.os})`, true, `tpc${i}`, {});
    d.node = n.os;
    d.nodeGiven = true;
    d.cores = free;
    d.resolved = true;
    drafts.push(d);
  }
  if (drafts.length === 0) {
    const why = hasReserve
      ? `the reserve leaves no allowed core for drivers (allowed cores: ${ck.allowedCoresText()}; reserved: ${formatList(reserved)})`
      : `no NUMA node has allowed cores for this process (allowed cores: ${ck.allowedCoresText()})`;
    ck.error(hasReserve ? 'reserve' : 'tpcs', `no TPC remains: ${why}`);
  }
}

/** Parses one entry of tpcs: keys, types, node; cores are resolved later, across all TPCs. */
function parseTpc(ck: Checker, t: unknown, i: number): Draft | undefined {
  const path = `tpcs[${i}]`;
  if (!isObject(t)) {
    ck.error(path, `expected a TPC object like { "node": 0, "cores": "0-7" }, got ${show(t)}`, t);
    return undefined;
  }
  ck.unknownKeys(t, path, TPC_KEYS);
  const d = newDraft(path, path, false, `tpc${i}`, t);

  if (t.name !== undefined) {
    if (typeof t.name !== 'string' || t.name.trim() === '') ck.error(`${path}.name`, `expected a non-empty string, got ${show(t.name)}`, t.name);
    else if (t.name.includes('/')) ck.error(`${path}.name`, `"${t.name}" contains "/", which separates TPC and driver in driver names`, t.name);
    else d.name = t.name;
  }

  if (t.node !== undefined) {
    const n = t.node;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      ck.error(`${path}.node`, `expected a NUMA node number, got ${show(n)}`, n);
      d.invalid.add('node');
    } else if (!ck.nodes.has(n)) {
      ck.error(`${path}.node`, `there is no NUMA node ${n} (this machine has nodes ${formatList(ck.nodes.keys())})`, n);
      d.invalid.add('node');
    } else {
      d.node = n;
      d.nodeGiven = true;
      if (!ck.nodes.get(n)!.allowed) {
        ck.error(`${path}.node`, `NUMA node ${n}'s memory is not allowed for this process (allowed nodes: ${formatList(ck.topo.allowed.nodes) || 'none'})`, n);
      }
    }
  }

  d.coresSel = ck.coreSpec(t.cores, `${path}.cores`);
  d.reserveSel = ck.coreSpec(t.reserve, `${path}.reserve`);
  if (d.coresSel === null) d.invalid.add('cores');
  if (d.reserveSel === null) d.invalid.add('reserve');

  const own = d.own;
  const smt = ck.smt(t.smt, `${path}.smt`);
  if (smt !== undefined) own.smt = smt;
  const arena = ck.arena(t.arena, `${path}.arena`);
  if (arena !== undefined) own.arena = arena;
  else if (t.arena !== undefined) d.invalid.add('arena');
  const drivers = ck.drivers(t.drivers, `${path}.drivers`);
  if (drivers !== undefined) own.drivers = drivers;
  else if (t.drivers !== undefined) d.invalid.add('drivers');
  const prefault = ck.bool(t.prefault, `${path}.prefault`);
  if (prefault !== undefined) own.prefault = prefault;
  return d;
}

/**
 * Resolves the cores of explicit TPCs. TPCs with a core list go first; then
 * TPCs with a count, then those with cores omitted, each (in config order)
 * taking from what the lists, the reserves and earlier TPCs left on its
 * node. So a list always gets its cores, and "the rest of the node" means
 * what the others leave, wherever the TPCs stand in the config.
 */
function resolveExplicitCores(ck: Checker, drafts: Draft[], globalReserved: Set<number>): void {
  const listed = drafts.filter((d) => d.coresSel?.kind === 'list');
  // counts before omitted cores: "the rest of the node" is what the counts leave
  const others = [...drafts.filter((d) => d.coresSel?.kind === 'count'), ...drafts.filter((d) => d.coresSel === undefined)];

  for (const d of listed) resolveListTpc(ck, d, globalReserved);

  // Cores already spoken for: list TPCs' driver cores, every explicit reserve.
  const taken = new Map<number, string>();
  for (const d of listed) for (const c of [...d.cores, ...d.reserved]) if (!taken.has(c)) taken.set(c, d.path);
  for (const d of others) if (d.reserveSel?.kind === 'list') for (const c of d.reserveSel.cores) if (!taken.has(c)) taken.set(c, d.path);

  for (const d of others) {
    resolveNodeTpc(ck, d, globalReserved, taken);
    for (const c of [...d.cores, ...d.reserved]) if (!taken.has(c)) taken.set(c, d.path);
  }

  // Two TPCs' drivers on one core (so on one PU) cannot be; nor drivers on a core another TPC reserved.
  const driverOwner = new Map<number, Draft>();
  for (const d of drafts) {
    const clash = new Map<string, number[]>();
    for (const c of d.cores) {
      const owner = driverOwner.get(c);
      if (owner) clash.set(owner.path, [...(clash.get(owner.path) ?? []), c]);
      else driverOwner.set(c, d);
    }
    for (const [other, cs] of clash) {
      ck.error(`${d.path}.cores`, `${coresWord(cs)} ${cs.length === 1 ? 'is' : 'are'} also claimed by ${other} (a core carries the drivers of one TPC only)`, formatList(cs));
    }
  }
  for (const d of drafts) {
    const clash = new Map<string, number[]>();
    for (const c of d.reserved) {
      const owner = driverOwner.get(c);
      if (owner && owner !== d) clash.set(owner.path, [...(clash.get(owner.path) ?? []), c]);
    }
    for (const [other, cs] of clash) {
      ck.error(`${d.path}.reserve`, `${coresWord(cs)} ${cs.length === 1 ? 'is' : 'are'} reserved here but ${other} runs drivers on ${cs.length === 1 ? 'it' : 'them'}`, formatList(cs));
    }
  }
}

/** A TPC whose cores are an explicit list. */
function resolveListTpc(ck: Checker, d: Draft, globalReserved: Set<number>): void {
  const list = (d.coresSel as { kind: 'list'; cores: number[] }).cores;
  const cpath = `${d.path}.cores`;
  if (list.length === 0) {
    if (!ck.errors.some((e) => e.path === cpath)) ck.error(cpath, 'empty list: a TPC needs at least one core', []);
    return;
  }

  // Node: given, or the allowed node holding most of the cores.
  if (d.node === undefined && !d.invalid.has('node')) {
    const count = new Map<number, number>();
    for (const c of list) {
      const n = ck.cores.get(c)!.node;
      count.set(n, (count.get(n) ?? 0) + 1);
    }
    const candidates = [...count.entries()].filter(([n]) => ck.nodes.get(n)!.allowed).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    if (candidates.length === 0) {
      ck.error(cpath, `${coresWord(list)} ${list.length === 1 ? 'is' : 'are'} on NUMA node${count.size === 1 ? '' : 's'} ${formatList(count.keys())}, whose memory is not allowed for this process (allowed nodes: ${formatList(ck.topo.allowed.nodes) || 'none'})`, list);
      return;
    }
    d.node = candidates[0]![0];
    if (count.size > 1) {
      ck.warn(cpath, `${coresWord(list)} span NUMA nodes ${formatList(count.keys())}; the arena goes on node ${d.node}, which holds ${candidates[0]![1]} of them (set "node" to choose, or split the TPC per node)`, formatList(list));
    }
  }

  // TPC reserve: cores of this list, or the first N allowed of them.
  const reserved = reserveFrom(ck, d, list, globalReserved, 'of this TPC\'s cores');
  const reservedSet = new Set([...reserved, ...globalReserved]);

  if (d.nodeGiven && d.node !== undefined) {
    const elsewhere = list.filter((c) => ck.cores.get(c)!.node !== d.node);
    for (const m of ck.wrongNode(elsewhere, d.node)) ck.error(cpath, m, formatList(elsewhere));
  }
  // A core this process may not use is an error, unless it is only reserved.
  const notAllowed = list.filter((c) => !ck.cores.get(c)!.allowed && !reservedSet.has(c));
  if (notAllowed.length > 0) {
    ck.error(cpath, `${coresWord(notAllowed)} ${notAllowed.length === 1 ? 'is' : 'are'} not allowed for this process (allowed cores: ${ck.allowedCoresText()})`, formatList(notAllowed));
  }
  d.reserved = reserved;
  d.cores = list.filter((c) => ck.cores.get(c)!.allowed && !reservedSet.has(c));
  if (d.cores.length === 0 && notAllowed.length === 0) {
    ck.error(cpath, `every core of this TPC (${formatList(list)}) is reserved, so it has no core for drivers`, formatList(list));
    return;
  }
  d.resolved = d.cores.length > 0 && !d.invalid.has('reserve') && !d.invalid.has('node');
}

/** A TPC whose cores are a count or omitted: taken from its node. */
function resolveNodeTpc(ck: Checker, d: Draft, globalReserved: Set<number>, taken: Map<number, string>): void {
  if (d.node === undefined) {
    if (d.invalid.has('node')) return;
    // Without node and without a list of cores, only a single-node machine is unambiguous.
    const withCores = ck.topo.nodes.filter((n) => n.allowed && n.cores.some((c) => ck.cores.get(c)!.allowed));
    if (withCores.length !== 1) {
      ck.error(d.path, `give "node" or a list of "cores": this machine has ${withCores.length} NUMA nodes with allowed cores (${formatList(withCores.map((n) => n.os))})`);
      return;
    }
    d.node = withCores[0]!.os;
  }
  const node = ck.nodes.get(d.node)!;
  const nodePath = d.nodeGiven ? `${d.path}.node` : d.path;
  if (node.cores.length === 0) {
    ck.error(nodePath, `NUMA node ${node.os} has no cores, so the TPC has nothing to run drivers on`, node.os);
    return;
  }
  const allowed = node.cores.filter((c) => ck.cores.get(c)!.allowed);
  if (allowed.length === 0) {
    ck.error(nodePath, `NUMA node ${node.os} has no allowed cores (its cores ${formatList(node.cores)} are outside the allowed cores ${ck.allowedCoresText()})`, node.os);
    return;
  }
  const ownReserve = d.reserveSel?.kind === 'list' ? new Set(d.reserveSel.cores) : new Set<number>();
  const free = allowed.filter((c) => !globalReserved.has(c) && (!taken.has(c) || (ownReserve.has(c) && taken.get(c) === d.path)));
  const reserved = reserveFrom(ck, d, node.cores, globalReserved, `of NUMA node ${node.os}'s cores`, free);
  const reservedSet = new Set(reserved);
  const available = free.filter((c) => !reservedSet.has(c));
  const availText = () => {
    const held = allowed.filter((c) => !available.includes(c));
    return `${available.length === 0 ? 'no' : `only ${available.length}`} allowed core${available.length === 1 ? '' : 's'}${available.length ? ` (${formatList(available)})` : ''}${held.length ? ` once reserves and other TPCs are served (${coresWord(held)} taken)` : ''}`;
  };
  const cpath = `${d.path}.cores`;
  if (d.coresSel?.kind === 'count') {
    const n = d.coresSel.count;
    if (n === 0) {
      ck.error(cpath, '0 cores: a TPC needs at least one core', 0);
      return;
    }
    if (n > available.length) {
      ck.error(cpath, `asks for ${plural(n, 'core')} but NUMA node ${node.os} has ${availText()}`, n);
      return;
    }
    d.cores = available.slice(0, n);
  } else {
    if (available.length === 0) {
      ck.error(d.path, `NUMA node ${node.os} has ${availText()}: the TPC has no core for drivers`);
      return;
    }
    d.cores = available;
  }
  d.reserved = reserved;
  d.resolved = !d.invalid.has('reserve');
}

/**
 * A TPC's own reserve. A list must name cores of `pool` (the TPC's list, or
 * its node); reserving a core this process may not use is fine. A count
 * takes the first N allowed, not globally reserved cores of `free` (default:
 * the pool).
 */
function reserveFrom(ck: Checker, d: Draft, pool: number[], globalReserved: Set<number>, poolText: string, free?: number[]): number[] {
  const sel = d.reserveSel;
  const rpath = `${d.path}.reserve`;
  if (!sel) return [];
  if (sel.kind === 'list') {
    const inPool = new Set(pool);
    const outside = sel.cores.filter((c) => !inPool.has(c));
    if (outside.length > 0) {
      ck.error(rpath, `${coresWord(outside)} ${outside.length === 1 ? 'is' : 'are'} not one ${poolText} (${formatList(pool)})`, formatList(outside));
      d.invalid.add('reserve');
    }
    return sel.cores.filter((c) => inPool.has(c));
  }
  const candidates = free ?? pool.filter((c) => ck.cores.get(c)!.allowed && !globalReserved.has(c));
  if (sel.count > candidates.length) {
    ck.error(rpath, `asks for ${plural(sel.count, 'core')} but only ${candidates.length} ${poolText} ${candidates.length === 1 ? 'is' : 'are'} allowed and free (${formatList(candidates) || 'none'})`, sel.count);
    d.invalid.add('reserve');
  }
  return candidates.slice(0, sel.count);
}

/** Settings, arena, slots and kinds of one TPC whose cores are resolved. */
function finishTpc(
  ck: Checker,
  d: Draft,
  global: { smt?: SmtPolicy | undefined; arena?: number | undefined; drivers?: DriversSel | undefined; prefault?: boolean | undefined },
  cfg: Record<string, unknown>,
  knobs: RuntimeSettings['knobs'],
  /** it holds the main thread's inbox (TPC 0) */
  main: boolean,
): ResolvedTpc | undefined {
  if (!d.resolved || d.node === undefined) return undefined;
  const node = ck.nodes.get(d.node)!;
  const pick = <T>(key: 'smt' | 'arena' | 'drivers' | 'prefault', own: T | undefined, glob: T | undefined, dflt: T): Setting<T> =>
    own !== undefined
      ? { value: own, path: `${d.path}.${key}` }
      : glob !== undefined
        ? { value: glob, path: key }
        : { value: dflt, path: undefined };
  // Issues about a machine-wide setting name the TPC they concern.
  const about = (s: Setting<unknown>) => (s.path !== undefined && !s.path.startsWith(`${d.path}.`) ? `for ${d.label}: ` : '');

  const smt = pick('smt', d.own.smt, global.smt, DEFAULT_SMT);
  const drivers = pick<DriversSel>('drivers', d.own.drivers, global.drivers, { mode: 'kind', kind: DEFAULT_DRIVER_KIND });
  const prefault = pick('prefault', d.own.prefault, global.prefault, false);

  const nodePath = d.auto ? 'tpcs' : d.nodeGiven ? `${d.path}.node` : `${d.path}.cores`;
  let arenaBytes: number;
  const arenaSet = pick('arena', d.own.arena, global.arena, undefined as number | undefined);
  if (node.memory === 0) {
    ck.warn(nodePath, `${d.auto ? `${d.label}: ` : ''}NUMA node ${node.os} has no memory of its own; the TPC's arena cannot be local to its cores`);
  }
  if (arenaSet.value === undefined) arenaBytes = defaultArenaBytes(node.memory);
  else {
    arenaBytes = arenaSet.value;
    if (node.memory > 0 && arenaBytes > node.memory) {
      ck.error(arenaSet.path!, `${about(arenaSet)}${formatSize(arenaBytes)} is more than NUMA node ${node.os}'s memory (${formatSize(node.memory)})`, arenaBytes);
    }
  }
  // an invalid own arena/drivers was reported already; don't check the TPC against a fallback
  const driversValid = !d.invalid.has('drivers') && !(d.own.drivers === undefined && cfg.drivers !== undefined && global.drivers === undefined);

  let slots = driverSlots(ck.topo, d.cores, smt.value);
  const slotsText = () =>
    smt.value === 'core'
      ? `${plural(d.cores.length, 'core')} under smt "core"`
      : `${plural(slots.length, 'allowed hardware thread')} on ${plural(d.cores.length, 'core')} under smt "${smt.value}"`;

  if (smt.value === 'split') {
    // (both set machine-wide was reported once, above)
    if (drivers.path !== undefined && !(drivers.path === 'drivers' && smt.path === 'smt')) {
      ck.error(drivers.path, `${about(drivers)}cannot be combined with smt "split": ${SPLIT_DECIDES}`, drivers.path === 'drivers' ? cfg.drivers : d.raw.drivers);
    }
    if (!d.cores.some((c) => allowedPus(ck.topo, ck.cores.get(c)!).length >= 2)) {
      const why = ck.topo.threadsPerCore === 1 ? 'this machine has no SMT' : 'none of its cores has two allowed hardware threads';
      ck.warn(smt.path ?? d.path, `${about(smt)}smt "split" has no effect: ${why}, so every core gets a hybrid driver`, 'split');
    }
  } else if (driversValid) {
    const sel = drivers.value;
    if (sel.mode === 'kind') slots = slots.map((s) => ({ ...s, kind: sel.kind }));
    else if (sel.mode === 'counts') {
      const { io, exec, hybrid } = sel.counts;
      const asked = io + exec + hybrid;
      const detail = DRIVER_KINDS.filter((k) => sel.counts[k] > 0).map((k) => `${k} ${sel.counts[k]}`).join(', ');
      if (asked > slots.length) {
        ck.error(drivers.path!, `${about(drivers)}asks for ${plural(asked, 'driver')} (${detail}) but the TPC has ${plural(slots.length, 'slot')} (${slotsText()})`, sel.counts);
      } else {
        const kinds: DriverKind[] = [...Array<DriverKind>(io).fill('io'), ...Array<DriverKind>(exec).fill('exec'), ...Array<DriverKind>(hybrid).fill('hybrid')];
        const idle = slots.slice(asked);
        if (idle.length > 0) {
          const where = smt.value === 'core' ? coresWord(idle.map((s) => s.core)) : `PUs ${formatList(idle.map((s) => s.pu))}`;
          ck.warn(drivers.path!, `${about(drivers)}${plural(asked, 'driver')} for ${plural(slots.length, 'slot')} (${slotsText()}): ${plural(idle.length, 'slot')} left idle (${where})`, sel.counts);
        }
        slots = slots.slice(0, asked).map((s, i) => ({ ...s, kind: kinds[i]! }));
      }
    } else {
      const kindOf = new Map<number, DriverKind>();
      const mine = new Set(d.cores);
      for (const e of sel.entries) {
        const stray = e.cores.filter((c) => !mine.has(c));
        // a machine-wide perCore names cores of every TPC: checked once, against all of them
        if (stray.length > 0 && drivers.path !== 'drivers') {
          const reserved = stray.filter((c) => d.reserved.includes(c));
          const why = reserved.length === stray.length ? ' (reserved cores have no driver)' : '';
          ck.error(`${drivers.path}.perCore[${JSON.stringify(e.key)}]`, `${coresWord(stray)} ${stray.length === 1 ? 'is' : 'are'} not one of this TPC's driver cores (${formatList(d.cores)})${why}`, e.key);
        }
        for (const c of e.cores) if (mine.has(c)) kindOf.set(c, e.kind);
      }
      slots = slots.map((s) => ({ ...s, kind: kindOf.get(s.core) ?? DEFAULT_DRIVER_KIND }));
    }
  }

  // The runtime's own blocks must fit before any task allocates: a default
  // arena grows to hold them twice over, one the config sets is an error.
  const fp = runtimeFootprint(knobs, slots.length, slots.filter((s) => s.kind !== 'io').length, main);
  if (arenaSet.value === undefined && fp.bytes > arenaBytes / 2) arenaBytes = Math.ceil((2 * fp.bytes) / ARENA_ALIGN) * ARENA_ALIGN;
  if (fp.bytes > arenaBytes) {
    ck.error(
      arenaSet.path ?? (d.auto ? 'arena' : `${d.path}.arena`),
      `${about(arenaSet)}an arena of ${formatSize(arenaBytes)} cannot hold the runtime's own blocks, ${formatSize(fp.bytes)}: ` +
        `${fp.inboxes} inbox${fp.inboxes === 1 ? '' : 'es'} of ${formatSize(fp.inboxBytes)} (runtime.inboxSlots x runtime.slotBytes, rounded up to a power of two), ` +
        `${fp.rings} ring block${fp.rings === 1 ? '' : 's'} of ${formatSize(fp.ringBytes)} (runtime.ringEntries) and ${fp.statsBlocks} stats block${fp.statsBlocks === 1 ? '' : 's'}; ` +
        'make the arena larger (its tasks need room too) or lower runtime.inboxSlots',
      arenaBytes,
    );
  }
  return {
    name: d.name,
    node: d.node,
    nodes: [...new Set(d.cores.map((c) => ck.cores.get(c)!.node))].sort((a, b) => a - b),
    cores: d.cores,
    reserved: d.reserved,
    arenaBytes,
    prefault: prefault.value,
    smt: smt.value,
    slots,
  };
}
