// Internals, exported for gatio's own tests and benchmarks only: no
// stability promise. Users import from 'gatio' (src/index.ts).
export * from './index.js';
export { Router, rendezvous, RouteError } from './drivers/router.js';
export type { DriverLoad, RouteTarget, RouteReason, RouteOptions } from './drivers/router.js';
export { checkRuntimeSettings, DEFAULT_KNOBS } from './drivers/settings.js';
export { registry as taskRegistry } from './drivers/tasks.js';
