// The plan: which TPCs exist and which driver runs on which PU. A pure
// function of (topology, config): validate.ts checks and resolves the config,
// this file numbers and names the drivers and prints the result.
import type { ResolvedPort } from './ports.js';
import type { Topology, TopologySource } from './topology.js';
import { formatList } from './cpuset.js';
import { formatSize } from './size.js';
import { describeSource } from './format-topology.js';
import { ConfigError, formatIssues, type ConfigIssue, type DriverKind, type GatioConfig, type SmtPolicy } from './config.js';
import { resolveConfig } from './validate.js';

export interface PlannedDriver {
  /** global, dense: TPC order, then core/PU order */
  id: number;
  /** "<tpc>/<kind><n>", e.g. "tpc0/hybrid0", "tpc1/io0" */
  name: string;
  kind: DriverKind;
  /** index of its TPC in plan.tpcs */
  tpc: number;
  /** the TPC's NUMA node (where its arena lives) */
  node: number;
  /** core (hwloc logical index) */
  core: number;
  /** PU (OS index) the driver's thread is pinned to */
  pu: number;
}

export interface PlannedTpc {
  id: number;
  name: string;
  /** NUMA node of the arena */
  node: number;
  /** nodes its driver cores are on (more than one only for a TPC that spans nodes) */
  nodes: number[];
  /** cores available to its drivers (its reserve removed) */
  cores: number[];
  /** its own reserve (the machine-wide one is Plan.reserved) */
  reserved: number[];
  /** PUs of its drivers */
  cpus: number[];
  /** formatList(cpus) */
  cpuset: string;
  arenaBytes: number;
  prefault: boolean;
  smt: SmtPolicy;
  /** ids of its drivers */
  drivers: number[];
}

export interface Plan {
  source: TopologySource;
  tpcs: PlannedTpc[];
  drivers: PlannedDriver[];
  /** the machine-wide reserve */
  reserved: number[];
  /** port servers and the drivers serving each (tpc/ports.ts) */
  ports: ResolvedPort[];
  warnings: ConfigIssue[];
}

export interface PlanOptions {
  /** the config file, named in a ConfigError */
  file?: string;
}

/**
 * Plans TPCs and drivers for `config` on `topology`. Pure and deterministic.
 * Throws ConfigError (listing every error) when the config is invalid.
 */
export function plan(topology: Topology, config: GatioConfig = {}, options: PlanOptions = {}): Plan {
  const r = resolveConfig(config, topology);
  if (!r.ok) throw new ConfigError(r.errors, r.warnings, options.file);

  const drivers: PlannedDriver[] = [];
  const tpcs: PlannedTpc[] = r.tpcs.map((t, tpcId) => {
    const perKind: Record<DriverKind, number> = { io: 0, exec: 0, hybrid: 0 };
    const ids: number[] = [];
    for (const s of t.slots) {
      const id = drivers.length;
      drivers.push({ id, name: `${t.name}/${s.kind}${perKind[s.kind]++}`, kind: s.kind, tpc: tpcId, node: t.node, core: s.core, pu: s.pu });
      ids.push(id);
    }
    const cpus = t.slots.map((s) => s.pu).sort((a, b) => a - b);
    return {
      id: tpcId,
      name: t.name,
      node: t.node,
      nodes: t.nodes,
      cores: t.cores,
      reserved: t.reserved,
      cpus,
      cpuset: formatList(cpus),
      arenaBytes: t.arenaBytes,
      prefault: t.prefault,
      smt: t.smt,
      drivers: ids,
    };
  });

  // Validation keeps TPCs on disjoint cores, so this cannot fire; if it does, the bug is ours.
  const owner = new Map<number, string>();
  for (const d of drivers) {
    const other = owner.get(d.pu);
    if (other !== undefined) throw new Error(`gatio planner bug: drivers ${other} and ${d.name} both on PU ${d.pu}`);
    owner.set(d.pu, d.name);
  }
  return { source: topology.source, tpcs, drivers, reserved: r.reserved, ports: r.ports, warnings: r.warnings };
}

/** Left-aligned columns; the header row first. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}

/** The plan as a readable table: one row per TPC, then one row per driver, then the reserve and warnings. */
export function formatPlan(p: Plan): string {
  const out: string[] = [`plan for ${describeSource(p.source)}: ${p.tpcs.length} TPC${p.tpcs.length === 1 ? '' : 's'}, ${p.drivers.length} driver${p.drivers.length === 1 ? '' : 's'}`, ''];
  out.push(
    ...table([
      ['TPC', 'NODE', 'CORES', 'RESERVED', 'CPUSET', 'ARENA', 'PREFAULT', 'SMT', 'DRIVERS'],
      ...p.tpcs.map((t) => [
        t.name,
        t.nodes.length > 1 ? `${t.node} (cores on ${formatList(t.nodes)})` : `${t.node}`,
        formatList(t.cores),
        formatList(t.reserved) || '-',
        t.cpuset,
        formatSize(t.arenaBytes),
        t.prefault ? 'yes' : 'no',
        t.smt,
        `${t.drivers.length}`,
      ]),
    ]),
  );
  out.push('');
  out.push(
    ...table([
      ['ID', 'NAME', 'KIND', 'TPC', 'NODE', 'CORE', 'PU'],
      ...p.drivers.map((d) => [`${d.id}`, d.name, d.kind, p.tpcs[d.tpc]!.name, `${d.node}`, `${d.core}`, `${d.pu}`]),
    ]),
  );
  if (p.ports.length > 0) {
    out.push('');
    out.push(
      ...table([
        ['PORT', 'PROTOCOL', 'HOST', 'HANDLER', 'DRIVERS', 'BUFFERS'],
        ...p.ports.map((q) => [
          `${q.port === 0 ? '0 (any)' : q.port}`,
          q.protocol,
          q.host === '::' ? ':: (IPv4 and IPv6)' : q.host,
          q.handler,
          q.drivers.map((id) => p.drivers[id]!.name).join(', '),
          `${q.options.bufCount} x ${formatSize(q.options.bufSize)}`,
        ]),
      ]),
    );
    // An HTTP port's limits and timeouts (docs/http.md), one line each.
    for (const q of p.ports) {
      const h = q.options.http;
      if (!h) continue;
      const s = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);
      out.push(
        `${q.key}: headers ${formatSize(h.maxHeaderBytes)} / ${h.maxHeaders}, URL ${formatSize(h.maxUrl)}, body ${formatSize(h.maxBody)}; timeouts: headers ${s(h.headersTimeout)}, request ${s(h.requestTimeout)}, keep-alive ${s(h.keepAliveTimeout)}`,
      );
    }
  }
  if (p.reserved.length > 0) out.push('', `reserved (no drivers): core${p.reserved.length === 1 ? '' : 's'} ${formatList(p.reserved)}`);
  if (p.warnings.length > 0) out.push('', 'warnings:', ...formatIssues(p.warnings).split('\n').map((l) => `  ${l}`));
  return out.join('\n');
}
