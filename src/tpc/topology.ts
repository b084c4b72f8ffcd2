// The machine as plain, JSON-serialisable data, loaded through hwloc.
//
// Every object hwloc sees is listed, including CPUs and nodes this process
// may not use (cgroup cpuset, taskset); each carries `allowed` so that the
// planner can say "core 9 exists but is not allowed" rather than "no core 9".
// Numbering:
// - PUs (hardware threads) by their OS index, the number Linux, taskset and
//   /proc/cpuinfo use;
// - cores, packages and L3 caches by hwloc's logical index (0..n-1 across
//   the machine, in topology order): stable and dense even when the OS core
//   ids are per-package or sparse;
// - NUMA nodes by their OS index, as numactl and mbind use.
import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import { native, type RawObject, type RawTopology } from '../native.js';
import { formatList, parseList } from './cpuset.js';

export interface TopologySource {
  kind: 'system' | 'synthetic' | 'xml';
  /** the synthetic description, for kind 'synthetic' */
  synthetic?: string;
  /** the XML file path, for kind 'xml' */
  xml?: string;
  /** an extra restriction of the allowed PUs that the caller asked for */
  restrict?: string;
}

export interface NumaNode {
  /** OS index (as numactl and mbind number nodes) */
  os: number;
  /** local memory in bytes */
  memory: number;
  /** logical indexes of the cores on this node */
  cores: number[];
  /** OS indexes of the PUs on this node */
  pus: number[];
  /** the package the node belongs to (logical index), or null if it spans packages */
  package: number | null;
  /** whether this process may allocate memory on this node */
  allowed: boolean;
}

export interface Package {
  id: number;
  /** OS indexes of the NUMA nodes of this package */
  nodes: number[];
  cores: number[];
  pus: number[];
}

export interface L3Cache {
  id: number;
  size: number;
  cores: number[];
  pus: number[];
}

export interface Core {
  /** hwloc logical index: dense, machine-wide */
  id: number;
  /** OS core id (per package on Linux), null when unknown */
  os: number | null;
  package: number;
  /** OS index of the NUMA node whose memory is local to this core */
  node: number;
  l3: number | null;
  /** OS indexes of this core's hardware threads, ascending */
  pus: number[];
  /** true when at least one of its PUs is allowed */
  allowed: boolean;
}

export interface Pu {
  /** OS index: the CPU number Linux uses */
  os: number;
  core: number;
  node: number;
  /** the other PUs of the same core (SMT siblings) */
  siblings: number[];
  allowed: boolean;
}

export interface Topology {
  source: TopologySource;
  nodes: NumaNode[];
  packages: Package[];
  l3: L3Cache[];
  cores: Core[];
  pus: Pu[];
  /** the PUs and nodes this process may use */
  allowed: { pus: number[]; nodes: number[] };
  /** hardware threads per core (max over cores); 1 means no SMT */
  threadsPerCore: number;
}

export interface TopologyOptions {
  /** hwloc synthetic description, e.g. "Package:2 NUMANode:1 Core:4 PU:2" */
  synthetic?: string;
  /** path to a hwloc XML export (`lstopo machine.xml`) */
  xml?: string;
  /** restrict the allowed PUs further, as a cpulist ("0-3"): simulates taskset on a synthetic topology */
  restrict?: string | number[];
}

/** Loads the topology: this machine by default, or a synthetic / XML description. */
export function topology(opts: TopologyOptions = {}): Topology {
  if (opts.synthetic !== undefined && opts.xml !== undefined) {
    throw new Error('topology: give either synthetic or xml, not both');
  }
  const source: TopologySource = { kind: 'system' };
  const nativeOpts: { synthetic?: string; xml?: string } = {};
  if (opts.synthetic !== undefined) {
    source.kind = 'synthetic';
    source.synthetic = nativeOpts.synthetic = opts.synthetic;
  } else if (opts.xml !== undefined) {
    source.kind = 'xml';
    source.xml = nativeOpts.xml = resolve(opts.xml);
    // hwloc reports a missing or unreadable file vaguely; check first.
    try {
      accessSync(nativeOpts.xml, constants.R_OK);
    } catch (err) {
      throw new Error(`topology: cannot read XML topology ${nativeOpts.xml}: ${(err as Error).message}`);
    }
  }
  let restrict: number[] | undefined;
  if (opts.restrict !== undefined) {
    restrict = typeof opts.restrict === 'string' ? parseList(opts.restrict) : [...opts.restrict].sort((a, b) => a - b);
    source.restrict = formatList(restrict);
  }
  return buildTopology(native().loadTopology(nativeOpts), source, restrict);
}

/** Turns the addon's flat lists into the linked model. Pure. */
function buildTopology(raw: RawTopology, source: TopologySource, restrict?: number[]): Topology {
  const allowedCpus = new Set(raw.allowedCpus);
  if (raw.processCpus) intersect(allowedCpus, raw.processCpus);
  if (restrict) intersect(allowedCpus, restrict);
  const allowedNodes = new Set(raw.allowedNodes);

  // Machines without Core objects (some VMs) get one core per PU.
  const rawCores: RawObject[] = raw.cores.length > 0 ? raw.cores : raw.pus.map((p, i) => ({ ...p, logical: i }));
  const rawPackages: RawObject[] =
    raw.packages.length > 0 ? raw.packages : [{ logical: 0, os: 0, cpus: raw.pus.map((p) => p.os ?? p.logical) }];
  const rawNodes: RawObject[] =
    raw.nodes.length > 0 ? raw.nodes : [{ logical: 0, os: 0, cpus: raw.pus.map((p) => p.os ?? p.logical), memory: 0 }];

  const puOs = (o: RawObject) => o.os ?? o.logical;
  const owner = (objs: RawObject[], cpu: number) => objs.find((o) => o.cpus.includes(cpu));

  const cores: Core[] = rawCores.map((c) => {
    const first = c.cpus[0]!;
    const node = owner(rawNodes, first);
    const pkg = owner(rawPackages, first);
    const l3 = owner(raw.l3, first);
    return {
      id: c.logical,
      os: c.os,
      package: pkg ? pkg.logical : 0,
      node: node ? puOs(node) : 0,
      l3: l3 ? l3.logical : null,
      pus: [...c.cpus],
      allowed: c.cpus.some((p) => allowedCpus.has(p)),
    };
  });
  const coreOfPu = new Map<number, Core>();
  for (const c of cores) for (const p of c.pus) coreOfPu.set(p, c);

  const pus: Pu[] = raw.pus.map((p) => {
    const os = puOs(p);
    const core = coreOfPu.get(os)!;
    return {
      os,
      core: core.id,
      node: core.node,
      siblings: core.pus.filter((x) => x !== os),
      allowed: allowedCpus.has(os),
    };
  });

  const coresIn = (cpus: number[]) => cores.filter((c) => c.pus.some((p) => cpus.includes(p))).map((c) => c.id);
  const nodes: NumaNode[] = rawNodes.map((n) => {
    const pkgs = new Set(n.cpus.map((p) => coreOfPu.get(p)?.package).filter((x) => x !== undefined));
    return {
      os: puOs(n),
      memory: n.memory ?? 0,
      cores: coresIn(n.cpus),
      pus: [...n.cpus],
      package: pkgs.size === 1 ? [...pkgs][0]! : null,
      allowed: raw.nodes.length === 0 || allowedNodes.has(puOs(n)),
    };
  });
  const packages: Package[] = rawPackages.map((p) => ({
    id: p.logical,
    nodes: nodes.filter((n) => n.pus.length > 0 && n.pus.every((x) => p.cpus.includes(x))).map((n) => n.os),
    cores: coresIn(p.cpus),
    pus: [...p.cpus],
  }));
  const l3: L3Cache[] = raw.l3.map((c) => ({ id: c.logical, size: c.size ?? 0, cores: coresIn(c.cpus), pus: [...c.cpus] }));

  return {
    source,
    nodes,
    packages,
    l3,
    cores,
    pus,
    allowed: {
      pus: pus.filter((p) => p.allowed).map((p) => p.os),
      nodes: nodes.filter((n) => n.allowed).map((n) => n.os),
    },
    threadsPerCore: Math.max(1, ...cores.map((c) => c.pus.length)),
  };
}

function intersect(set: Set<number>, keep: number[]): void {
  const k = new Set(keep);
  for (const x of set) if (!k.has(x)) set.delete(x);
}
