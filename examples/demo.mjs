// The quick-start demo: what gatio sees on this machine.
import { topology } from '../dist/index.js';

const t = topology();
console.log(`gatio sees ${t.nodes.length} NUMA node(s), ${t.cores.length} core(s), ${t.pus.length} PU(s)`);
