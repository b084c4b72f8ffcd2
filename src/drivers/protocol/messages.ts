// Messages between threads: the first bytes of every queue slot. Fixed
// headers are written with DataView-free little-endian typed-array stores
// into a scratch buffer, followed by a codec-encoded body.
//
//   byte 0      kind (a BIG bit 0x80 means: the body is in an arena block)
//   byte 1      flags (RESULT: 1 = ok, 0 = error)
//   bytes 2-3   u16: SPAWN: queue index; CHANNEL: sender endpoint
//   bytes 4-7   u32: SPAWN: task index; CONTROL: op
//   bytes 8-15  f64: call id (SPAWN, RESULT, CANCEL; CONTROL: what a reply settles)
//   bytes 16-17 u16: SPAWN, CANCEL, CONTROL: the sender's endpoint (where replies go)
//   bytes 18-19 u16: the destination's generation when the message was built
//               (queue.ts): a restarted driver drops what was meant for its predecessor
//               (IO_REQUEST too; IO_DONE and DRIVER_EXITED, built by native
//               threads, carry none: call ids are unique across generations)
//   bytes 20-23 reserved
//   bytes 24-   body (codec), or for BIG: f64 arena offset, u32 length, u16 arena index
//
// IO_REQUEST and IO_DONE (to and from native io drivers) have fixed layouts
// of their own, no codec body; mirrored in native/io_driver.h (static_asserts).
import type { RawNetStats } from '../../native.js';

export const enum Kind {
  Spawn = 1,
  Result = 2,
  Cancel = 3,
  Channel = 4,
  Control = 5,
  /** to an io driver: one I/O operation (layout: IoReqAt) */
  IoRequest = 6,
  /** from an io driver: the operation's result (layout: IoDoneAt) */
  IoDone = 7,
  /**
   * from a native io driver whose thread stopped on its own (a failure), to
   * the main thread: byte 1 = 1 if it drained its ring first, bytes 2-3 u16
   * its driver id (native/io_driver.h DriverExitedMsg)
   */
  DriverExited = 8,
  /** to an io driver, from an exec driver: a command for a connection it runs (layout: protocol/net.ts NetCmdAt) */
  NetCmd = 9,
  /** from an io driver, to an exec driver: an event of a connection it runs (NetEventAt) */
  NetEvent = 10,
  /** to an io driver, from the main thread: listen, start, stop, an exec driver died (NetSetupAt) */
  NetSetup = 11,
  /** from an io driver, to the main thread: the answer to a NetSetup (NetSetupDoneAt) */
  NetSetupDone = 12,
}

export const BIG = 0x80;
export const HEADER = 24;

export const enum ControlOp {
  /** stop taking new work; finish what was accepted */
  Drain = 1,
  /** abort running tasks, close the ring, exit */
  Exit = 2,
  /** reply (a RESULT to the header's call id and sender) with the driver's task queue, ring and timer stats */
  Stats = 3,
  /** to each JS driver: a driver died, reject the calls in flight to it (body: the dead driver's id) */
  DriverDied = 4,
  /** change a queue's shares (body: [queue name, shares]) */
  SetShares = 5,
  /** to the main thread: something on a driver failed outside any call (body: [channel, error]) */
  HandlerError = 6,
  /** open a port server's socket, not yet accepting; reply: its effective config and fingerprint (body: net ListenRequest) */
  Listen = 7,
  /** start accepting / receiving (body: [server]) */
  NetStart = 8,
  /** stop a port server (body: [server, closeConnections]) */
  NetStop = 9,
  /** to the main thread: a port handler threw (body: [port, handler, callback, error]) */
  PortHandlerError = 10,
  /** to an exec driver: run the connections of an io driver's port server (body: net RemoteAttach); reply: the handler's shape */
  NetAttach = 11,
  /** to the main thread: a loop turn ran longer than runtime.stallMs (body: [ms, task name or null, queue]) */
  Stall = 12,
  /** to the main thread: the ring refused commands of a batch and ran the rest (body: [why, ...]) */
  RingRefused = 13,
}

/** Endpoint 0 is the main thread; driver d is endpoint d + 1. */
export const MAIN_ENDPOINT = 0;
export const endpointOfDriver = (driver: number) => driver + 1;
export const driverOfEndpoint = (endpoint: number) => endpoint - 1;

/**
 * IO_REQUEST, 56 bytes, little-endian (native/io_driver.h IoRequestMsg):
 *
 *   0  u8  kind     Kind.IoRequest
 *   1  u8  op       OP_NOP, OP_OPENAT, OP_CLOSE, OP_READ, OP_WRITE, OP_FSYNC (ring.ts numbering)
 *   2  u16 bufArena TPC index of the arena holding buf
 *   4  i32 fd       OPENAT: the directory fd (AT_FDCWD = -100)
 *   8  f64 callId   the requester's id (integer < 2^53), echoed in IO_DONE
 *  16  u16 replyTo  endpoint that gets the IO_DONE
 *  18  u16 gen      the io driver's inbox generation the requester read (a restarted driver drops older ones)
 *  20  u32 mode     OPENAT: file mode
 *  24  f64 off      READ/WRITE: file offset; -1 = the file position
 *  32  u32 len      READ/WRITE: bytes; OPENAT: path bytes including the NUL
 *  36  u32 flags    OPENAT: open flags; FSYNC: 1 = datasync
 *  40  f64 buf      byte offset in arena bufArena of the buffer (OPENAT: the path)
 *  48  f64 block    the arena block holding buf (an IoBuffer's, the path's), or -1; echoed in IO_DONE
 *
 * The requester owns [buf, buf + len) until it has read the IO_DONE: the
 * kernel may read or write it until then.
 */
export const enum IoReqAt {
  Op = 1,
  BufArena = 2,
  Fd = 4,
  CallId = 8,
  ReplyTo = 16,
  Gen = 18,
  Mode = 20,
  Off = 24,
  Len = 32,
  Flags = 36,
  Buf = 40,
  Block = 48,
  Bytes = 56,
}

/**
 * IO_DONE, 32 bytes (native/io_driver.h IoDoneMsg):
 *
 *   0  u8  kind    Kind.IoDone
 *   1  u8  op      the request's op
 *   2  u16 driver  the io driver's id
 *   4  i32 res     the result (bytes, fd, 0), or a negated errno
 *   8  f64 callId  the request's
 *  16  u32 flags   the completion's CQE flags
 *  20  u16 bufArena the request's
 *  22  u16 reserved
 *  24  f64 block    the request's: the reader of an IO_DONE whose call is gone
 *                   (a predecessor that died) frees it: nobody else can know
 *                   when the kernel is done with it
 */
export const enum IoDoneAt {
  Op = 1,
  Driver = 2,
  Res = 4,
  CallId = 8,
  Flags = 16,
  BufArena = 20,
  Block = 24,
  Bytes = 32,
}

/** One task queue of a driver, as its reply to ControlOp.Stats reports it (thread/scheduler.ts fills it). */
export interface TaskQueueStats {
  name: string;
  shares: number;
  /** the latency class, or undefined for a batch queue */
  latency: { maxDelayMs: number } | undefined;
  /** virtual runtime, ms / shares */
  vruntime: number;
  /** real time charged to the queue, ms */
  runtimeMs: number;
  /** work items run */
  items: number;
  /** tasks started through spawn() */
  started: number;
  /** spawned tasks whose promise has not settled yet */
  running: number;
  /** yieldIfNeeded() calls that yielded */
  yields: number;
  /** work items waiting */
  pending: number;
  /** observed: longest wait of an item between enqueue and start, ms */
  maxDelayMs: number;
  /** items that waited longer than the latency class allows (latency queues only) */
  late: number;
}

/** A port server's counters on one driver (native NetServerStats, plus the handler failures JS counted). */
/** An HTTP port server's counters on one driver (src/net/http/server.ts counts them). */
export interface HttpServerStats {
  /** request heads received */
  requests: number;
  /** responses ended, by status class */
  status1xx: number;
  status2xx: number;
  status3xx: number;
  status4xx: number;
  status5xx: number;
  /** requests refused by the parser or a limit (400, 413, 414, 431, 501, 505) */
  parseErrors: number;
  /** a head not complete in headersTimeout (408), a request not answered in requestTimeout (408 or close), an idle connection past keepAliveTimeout (closed) */
  headersTimeouts: number;
  requestTimeouts: number;
  idleTimeouts: number;
  /** requests whose client went away before the response ended */
  aborted: number;
  /** the handler threw or rejected */
  handlerErrors: number;
  /** connections open now */
  connections: number;
}

export type PortServerStats = RawNetStats & { port: string; handlerErrors: number; http?: HttpServerStats };

/** A JS driver's reply to ControlOp.Stats (thread/driver.ts builds it). */
export interface DriverStatsReply {
  driver: number;
  queues: TaskQueueStats[];
  ring: { submitted: number; completed: number; enters: number; inFlight: number; completions: { registered: number; delivered: number; dropped: number; stray: number } };
  /** gatio timers pending */
  timers: number;
  /** inbox messages dropped because they were meant for a predecessor that died */
  stale: number;
  /** port servers on this driver's ring (hybrid) */
  ports: PortServerStats[];
  /** port servers an io driver runs for this exec driver */
  remotePorts: Array<{ port: string; io: number; open: number; handlerErrors: number; http?: HttpServerStats }>;
}
