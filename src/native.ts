// Loads the C++ addon (build/Release/gatio.node) once per thread. When it
// cannot load, the error says which build step or system library is missing
// and the exact command that fixes it.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Raw hwloc object as the addon returns it (see native/topology.cc). */
export interface RawObject {
  logical: number;
  os: number | null;
  cpus: number[];
  memory?: number;
  size?: number;
}

export interface RawTopology {
  kind: 'system' | 'synthetic' | 'xml';
  nodes: RawObject[];
  packages: RawObject[];
  l3: RawObject[];
  cores: RawObject[];
  pus: RawObject[];
  allowedCpus: number[];
  allowedNodes: number[];
  processCpus?: number[];
}

export interface RawArenaStats {
  bytes: number;
  inUse: number;
  free: number;
  highWater: number;
  allocations: number;
  liveBlocks: number;
  failed: number;
  largestFree: number;
  minBlock: number;
  /** the NUMA node the arena is bound to (lets Arena.attach learn it) */
  node: number;
}

export interface RawPlacement {
  pageSize: number;
  pages: number;
  /** pages resident on each NUMA node, keyed by node os index */
  perNode: Record<string, number>;
  /** pages not yet faulted in (never touched) */
  notPresent: number;
  /** pages move_pages could not report for another reason */
  errors: number;
}

export interface RawUringProbe {
  ok: boolean;
  errno: number;
  error: string | null;
  setupFlags: Record<string, boolean>;
  features: Record<string, boolean>;
  opcodes: Record<string, boolean>;
  sysctlDisabled: number | null;
  /** why a probe said no, keyed by feature name or "setup.<FLAG>" (absent when it said yes) */
  details: Record<string, string>;
}

/** A parkWatch handle (native/wake.cc). */
export interface RawParkWatch {
  close(): void;
  ref(): RawParkWatch;
  unref(): RawParkWatch;
  hasRef(): boolean;
  readonly closed: boolean;
}

/** The request parser's limits (native/http_parser.h HttpLimits). */
export interface HttpParseLimits {
  maxUrl: number;
  maxHeaderBytes: number;
  maxHeaders: number;
  maxChunkExtension: number;
  /** an HTTP/1.1 request without Host is refused (400); the port servers set it */
  requireHost?: boolean;
}

/** What the request parser reports (native/http.cc). */
export type RawHttpEvent =
  | {
      type: 'head';
      method: string;
      url: string;
      version: string;
      headers: [string, string][];
      keepAlive: boolean;
      chunked: boolean;
      expectContinue: boolean;
      upgrade: boolean;
      /** -1: no Content-Length */
      contentLength: number;
    }
  | { type: 'body'; bytes: Uint8Array }
  | { type: 'end' }
  | { type: 'error'; status: number; code: string; reason: string };

/** netListen's spec (native/net.cc). */
export interface RawListenSpec {
  protocol: 'tcp' | 'udp';
  host: string;
  port: number;
  backlog: number;
  reusePort: boolean;
  noDelay: boolean;
  rcvBuf: number;
  /** SO_RCVBUFFORCE first (the runtime's UDP default) */
  forceRcvBuf?: boolean;
  sndBuf: number;
  /** arena offset of the buffer ring's block (page-aligned): owned by the ring from here on */
  bufBlock: number;
  bufCount: number;
  bufSize: number;
  maxConnections: number;
  highWater: number;
  maxQueued: number;
  /** CPU steering: the CPU of each socket of the group, in the order they joined it; empty: the kernel's hash */
  steer: number[];
}

/** What the kernel gave a listen, read back (native/net.cc). */
export interface RawListenResult {
  server: number;
  fd: number;
  port: number;
  /** after the kernel's clamp (net.core.somaxconn) */
  backlog: number;
  rcvBuf: number;
  sndBuf: number;
  reusePort: boolean;
  noDelay: boolean;
}

export interface RawPeer {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** A port server's counters on one driver (NetServerStats in native/net_engine.h). */
export interface RawNetStats {
  accepted: number;
  refused: number;
  open: number;
  closed: number;
  bytesIn: number;
  bytesOut: number;
  recvs: number;
  sends: number;
  sendsInFlight: number;
  enobufs: number;
  rearms: number;
  buffersLent: number;
  acceptErrors: number;
  acceptBackoffs: number;
  datagrams: number;
  truncated: number;
  sendErrors: number;
  /** accepted connections the kernel processed on this driver's CPU (SO_INCOMING_CPU) */
  incomingLocal: number;
  incomingOther: number;
  /** io + exec: times a connection stopped being read because its exec driver held too many of its buffers */
  throttles: number;
}

/** What ringCreate reports about the ring it set up (native/ring.cc). */
export interface RawRingInfo {
  id: number;
  /** the task-run mode in use: 'defer' (DEFER_TASKRUN), 'coop' (COOP_TASKRUN) or 'none' */
  mode: 'defer' | 'coop' | 'none';
  setupFlags: number;
  singleIssuer: boolean;
  /** IORING_SETUP_TASKRUN_FLAG: an idle turn can tell, without a syscall, that nothing is held */
  taskrunFlag: boolean;
  sqEntries: number;
  cqEntries: number;
  fd: number;
  /** the owning thread (gettid) */
  tid: number;
}

/** The functions the addon exports; one block per native/*.cc file. */
export interface NativeAddon {
  // topology.cc
  loadTopology(opts: { synthetic?: string; xml?: string }): RawTopology;
  // affinity.cc
  bindThread(cpus: number[]): void;
  threadAffinity(): number[];
  currentCpu(): number;
  threadId(): number;
  threadCpuMs(): number;
  // arena.cc
  arenaCreate(bytes: number, node: number, prefault: boolean, minBlock: number): number;
  arenaBuffer(id: number): SharedArrayBuffer;
  arenaAlloc(id: number, size: number, align: number): number;
  arenaFree(id: number, offset: number): void;
  arenaSerial(id: number, offset: number): number;
  arenaFreeIf(id: number, offset: number, serial: number): boolean;
  arenaStats(id: number): RawArenaStats;
  arenaPlacement(id: number): RawPlacement;
  arenaRelease(id: number): void;
  // uring_probe.cc
  probeIoUring(): RawUringProbe;
  // system.cc
  memlockLimit(): { soft: number; hard: number };
  versions(): { liburing: string; hwloc: string; hwlocRuntime: string; numa: string };
  numaAvailable(): boolean;
  // queue_hooks.cc (test hooks: the queue at (arena id, offset), driven from C++)
  queueNativePush(arenaId: number, offset: number, bytes: Uint8Array): boolean;
  queueNativePop(arenaId: number, offset: number): Uint8Array | null;
  queueNativeProducer(
    arenaId: number,
    offset: number,
    count: number,
    tag: number,
  ): Promise<{ pushed: number; fullRetries: number; woke: number }>;
  // wake.cc
  eventfdCreate(): number;
  eventfdWrite(fd: number): void;
  eventfdRead(fd: number): number;
  eventfdClose(fd: number): void;
  parkWatch(fd: number, callback: (err?: Error) => void): RawParkWatch;
  // ring.cc (every call but ringCreate: the creating thread only)
  ringCreate(opts: {
    arenaId: number;
    block: number;
    commands: number;
    completions: number;
    entries: number;
    mode?: 'auto' | 'defer' | 'coop' | 'none';
    eventfd?: number;
  }): RawRingInfo;
  ringTurn(id: number, nCommands: number, waitNs: number): number;
  ringSubmit(id: number, nCommands: number): void;
  ringReady(id: number): number;
  ringRefused(id: number): string[];
  ringHeld(id: number): boolean;
  ringEventfd(id: number, enabled: boolean): void;
  ringClose(id: number): boolean;
  // net.cc (the ring's thread only): port servers on a ring (src/net/)
  netAttach(ringId: number, opts: { block: number; events: number; slots: number; staging: number }): void;
  netListen(ringId: number, spec: RawListenSpec): RawListenResult;
  netStart(ringId: number, server: number): void;
  netStop(ringId: number, server: number, closeConnections: boolean): void;
  netPeer(ringId: number, conn: number): RawPeer | null;
  netStats(ringId: number, server: number): RawNetStats | null;
  // http.cc: the HTTP/1.1 request parser over one connection's chunks (tests, tools)
  httpParse(chunks: Uint8Array[], limits?: Partial<HttpParseLimits>): RawHttpEvent[];
  // http.cc: the HTTP port servers' parsers of one thread (src/net/http/wire.ts)
  HttpWire: new (arenaId: number, outOffset: number, outBytes: number) => unknown;
  // io_driver.cc (start and stop from the same thread)
  ioDriverStart(opts: {
    arenaIds: number[];
    tpc: number;
    inboxOffset: number;
    eventfd: number;
    pu: number;
    statsOffset: number;
    ringEntries?: number;
    endpoints: { tpc: number; offset: number }[];
    driver?: number;
    spinUs?: number;
  }): RawIoDriverInfo;
  ioDriverStop(handle: number): { drained: boolean; dropped: number; stale: number; failure: string | null; orphans: number[] };
  /** fault injection (tests): the io driver's loop stops as on a failure */
  ioDriverFault(handle: number): void;
}

/** What ioDriverStart reports once the io driver's thread has set up its ring (native/io_driver.cc). */
export interface RawIoDriverInfo {
  handle: number;
  tid: number;
  /** the CPU the thread was on when it reported (its PU) */
  cpu: number;
  mode: 'defer' | 'coop' | 'none';
  sqEntries: number;
  cqEntries: number;
  /** ops the driver keeps in its ring at most; further requests wait in its inbox */
  maxInFlight: number;
}

const here = dirname(fileURLToPath(import.meta.url));
/** Package root: this file is at dist/index.* (built) or src/native.ts. */
export const packageRoot = join(here, '..');
const addonPath = join(packageRoot, 'build', 'Release', 'gatio.node');

let cached: NativeAddon | undefined;

export function native(): NativeAddon {
  if (cached) return cached;
  if (!existsSync(addonPath)) {
    throw new Error(
      `gatio: the native addon is not built (${addonPath} is missing).\n` +
        `  fix: bash ${join(packageRoot, 'scripts', 'setup.sh')}   (installs liburing-dev, libhwloc-dev, libnuma-dev, node-llhttp and builds)\n` +
        `  or, with those installed: (cd ${packageRoot} && npm run build:native)`,
    );
  }
  try {
    cached = createRequire(import.meta.url)(addonPath) as NativeAddon;
  } catch (err) {
    const msg = (err as Error).message;
    const lib = /lib(uring|hwloc|numa)\.so/.exec(msg);
    const deb = lib ? { uring: 'liburing2', hwloc: 'libhwloc15', numa: 'libnuma1' }[lib[1] as 'uring' | 'hwloc' | 'numa'] : undefined;
    throw new Error(
      `gatio: cannot load the native addon ${addonPath}: ${msg}\n` +
        (deb
          ? `  the shared library lib${lib![1]} is missing; fix: apt-get install -y ${deb}\n`
          : `  it may have been built for another Node.js version; fix: (cd ${packageRoot} && npm run build:native)\n`),
    );
  }
  return cached;
}
