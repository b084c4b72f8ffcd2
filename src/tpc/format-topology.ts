// The topology as a readable tree: packages, their NUMA nodes, and each
// node's cores with their PUs and L3. What `gatio topology` prints.
import { formatList } from './cpuset.js';
import { formatSize } from './size.js';
import type { Topology, TopologySource } from './topology.js';

/** "this machine", `synthetic "..."` or "XML <file>", with any restriction: what formatTopology and formatPlan name. */
export function describeSource(s: TopologySource): string {
  const base = s.kind === 'synthetic' ? `synthetic "${s.synthetic}"` : s.kind === 'xml' ? `XML ${s.xml}` : 'this machine';
  return s.restrict !== undefined ? `${base}, restricted to PUs ${s.restrict || 'none'}` : base;
}

export function formatTopology(t: Topology): string {
  const lines: string[] = [];
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  lines.push(
    `Topology of ${describeSource(t.source)}: ${plural(t.packages.length, 'package')}, ${plural(t.nodes.length, 'NUMA node')}, ` +
      `${plural(t.cores.length, 'core')}, ${plural(t.pus.length, 'PU')} (${t.threadsPerCore} per core)`,
  );
  lines.push(`Allowed for this process: PUs ${formatList(t.allowed.pus) || 'none'}; NUMA nodes ${formatList(t.allowed.nodes) || 'none'}`);
  const notAllowed = (ok: boolean) => (ok ? '' : '  (not allowed)');
  const coreLine = (id: number, indent: string) => {
    const c = t.cores[id]!;
    const l3 = c.l3 === null ? '' : `, L3 ${c.l3}`;
    return `${indent}core ${c.id}: PU${c.pus.length > 1 ? 's' : ''} ${formatList(c.pus)}${l3}${notAllowed(c.allowed)}`;
  };
  const printed = new Set<number>();
  for (const p of t.packages) {
    lines.push(`package ${p.id}: cores ${formatList(p.cores)}, PUs ${formatList(p.pus)}`);
    for (const n of t.nodes.filter((n) => n.package === p.id)) {
      lines.push(`  NUMA node ${n.os}: ${formatSize(n.memory)}, cores ${formatList(n.cores) || 'none'}${notAllowed(n.allowed)}`);
      for (const id of n.cores) {
        lines.push(coreLine(id, '    '));
        printed.add(id);
      }
    }
  }
  // Nodes that span packages (or have no CPUs) are listed after the packages.
  for (const n of t.nodes.filter((n) => n.package === null)) {
    lines.push(`NUMA node ${n.os}: ${formatSize(n.memory)}, cores ${formatList(n.cores) || 'none (memory only)'}${notAllowed(n.allowed)}`);
    for (const id of n.cores.filter((id) => !printed.has(id))) lines.push(coreLine(id, '  '));
  }
  for (const c of t.l3) lines.push(`L3 ${c.id}: ${formatSize(c.size)}, shared by cores ${formatList(c.cores)}`);
  return lines.join('\n');
}
