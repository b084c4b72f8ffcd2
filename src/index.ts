// gatio's public API. Internals live in src/tpc, src/drivers and src/net;
// only what is re-exported here is promised to users. Task modules on a
// driver get driver-api.ts instead (the "gatio-driver" export condition):
// the same names, without loading the main thread's code.
export * from './driver-side.js';
export { doctor, formatDoctor, probeIoUring } from './cli/doctor.js';
export { validateConfig } from './tpc/validate.js';
export { plan, formatPlan } from './tpc/plan.js';
export { loadConfig } from './tpc/load-config.js';
export { start, Runtime } from './drivers/main/runtime.js';
export { serveControl, fetchStats, formatStats } from './drivers/main/control.js';
