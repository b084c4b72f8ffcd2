// gatio's public API. Internals live in src/tpc, src/drivers and src/net;
// only what is re-exported here is promised to users.
export { topology, buildTopology } from './tpc/topology.js';
export type { Topology, TopologyOptions, TopologySource, NumaNode, Package, L3Cache, Core, Pu } from './tpc/topology.js';
export { parseList, formatList } from './tpc/cpuset.js';
export { formatTopology } from './tpc/format-topology.js';
