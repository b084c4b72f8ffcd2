// Internals, exported for gatio's own tests and benchmarks only: no
// stability promise. Users import from 'gatio' (src/index.ts).
export * from './index.js';
export { Router, rendezvous, RouteError } from './drivers/shared/router.js';
export type { DriverLoad, RouteTarget, RouteReason, RouteOptions } from './drivers/shared/router.js';
export { Scheduler } from './drivers/thread/scheduler.js';
export type { TaskQueue } from './drivers/thread/scheduler.js';
export { MessageQueue } from './drivers/protocol/queue.js';
export type { QueueStats, QueueHandler } from './drivers/protocol/queue.js';
export { didYouMean, editDistance } from './tpc/did-you-mean.js';
export { encode, encodeInto, decode, encodeError, decodeError, CodecError, MAX_DEPTH } from './drivers/protocol/codec.js';
export { Ring, RingError, putPath, AT_FDCWD, CQE_F_MORE, FSYNC_DATASYNC } from './drivers/protocol/ring.js';
export type { RingOptions, RingMode, RingDescriptor, RingStats } from './drivers/protocol/ring.js';
export { ParkWatch, EventFd, eventfdCreate, eventfdWrite, eventfdRead, eventfdClose } from './drivers/shared/park.js';
export { CompletionRegistry } from './drivers/thread/completions.js';
export type { CompletionOwner, CompletionStats } from './drivers/thread/completions.js';
export { runtimeBlockBytes, runtimeFootprint } from './tpc/footprint.js';
export { STATS_BYTES } from './drivers/protocol/layout.js';
export { httpParse } from './net/http-parse.js';
export type { HttpParseLimits, RawHttpEvent } from './native.js';
