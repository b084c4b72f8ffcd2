// Internals, exported for gatio's own tests and benchmarks only: no
// stability promise. Users import from 'gatio' (src/index.ts).
export * from './index.js';
export { Router, rendezvous, RouteError } from './drivers/router.js';
export type { DriverLoad, RouteTarget, RouteReason, RouteOptions } from './drivers/router.js';
export { Scheduler } from './drivers/scheduler.js';
export type { TaskQueue } from './drivers/scheduler.js';
export { MessageQueue } from './drivers/queue.js';
export type { QueueStats, QueueHandler } from './drivers/queue.js';
export { didYouMean, editDistance } from './tpc/did-you-mean.js';
export { encode, encodeInto, decode, encodeError, decodeError, CodecError, MAX_DEPTH } from './drivers/codec.js';
export { Ring, RingError, putPath, AT_FDCWD, CQE_F_MORE, FSYNC_DATASYNC } from './drivers/ring.js';
export type { RingOptions, RingMode, RingDescriptor, RingStats } from './drivers/ring.js';
export { ParkWatch, EventFd, eventfdCreate, eventfdWrite, eventfdRead, eventfdClose } from './drivers/park.js';
