// gatio as task modules see it on a driver thread: the package's
// "gatio-driver" export condition, which every driver's worker runs under
// (runtime.ts newWorker). The same API as index.ts, without loading what
// only the main thread uses (the doctor, config validation, the planner,
// the runtime, the control socket): importing 'gatio' in a task module
// loads the driver side only. Those names are still exported, so a module
// shared with the main thread imports cleanly, and calling one on a driver
// says where it belongs.
export * from './driver-side.js';

/** An API of the main thread: exported here so that imports resolve; calling it on a driver throws. */
function mainOnly(name: string): (...args: unknown[]) => never {
  return () => {
    throw new Error(`gatio: ${name}() runs on the main thread, not inside a driver (a task module imported it; call it where start() is called)`);
  };
}

export const start = mainOnly('start');
export const doctor = mainOnly('doctor');
export const formatDoctor = mainOnly('formatDoctor');
export const probeIoUring = mainOnly('probeIoUring');
export const validateConfig = mainOnly('validateConfig');
export const plan = mainOnly('plan');
export const formatPlan = mainOnly('formatPlan');
export const loadConfig = mainOnly('loadConfig');
export const serveControl = mainOnly('serveControl');
export const fetchStats = mainOnly('fetchStats');
export const formatStats = mainOnly('formatStats');
/** The main thread's runtime class: not constructible on a driver. */
export class Runtime {
  constructor() {
    throw new Error('gatio: Runtime is the main thread\'s (start() makes it), not a driver\'s');
  }
}
