// A config computed in JavaScript: one io driver per TPC and as many exec
// drivers as there are cores left, for a machine with GATIO_CORES cores per
// NUMA node (default 4). loadConfig() calls an exported function with no
// arguments and uses what it returns.
export default function config() {
  const cores = Number(process.env.GATIO_CORES ?? 4);
  return { drivers: { io: 1, exec: cores - 1 } };
}
