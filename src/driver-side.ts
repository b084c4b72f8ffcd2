// What gatio exports on every thread: everything but the main thread's own
// values (index.ts adds those; driver-api.ts stands in for them on drivers).
// Type exports of main-thread modules are here too: they load nothing.
export { topology } from './tpc/topology.js';
export type { Topology, TopologyOptions, TopologySource, NumaNode, Package, L3Cache, Core, Pu } from './tpc/topology.js';
export { parseList, formatList } from './tpc/cpuset.js';
export { parseSize, formatSize } from './tpc/size.js';
export { formatTopology } from './tpc/format-topology.js';
export { pinThread, threadBinding } from './tpc/affinity.js';
export type { ThreadBinding } from './tpc/affinity.js';
export { Arena, ArenaExhaustedError } from './tpc/arena.js';
export type { ArenaOptions, Block, ArenaStats, ArenaPlacement } from './tpc/arena.js';
export type { DoctorReport, DoctorCheck, DoctorOptions, DoctorNode, DoctorArena, CheckStatus } from './cli/doctor.js';
export type { RawUringProbe as UringProbe } from './native.js';
export {
  ConfigError,
  formatIssue,
  formatIssues,
  defaultArenaBytes,
  DEFAULT_ARENA_MAX,
  ARENA_ALIGN,
  DRIVER_KINDS,
  SMT_POLICIES,
} from './tpc/config.js';
export type { GatioConfig, TpcConfig, CoreSpec, Size, SmtPolicy, DriverKind, DriversSpec, ConfigIssue } from './tpc/config.js';
export type { ValidationResult } from './tpc/validate.js';
export type { Plan, PlannedTpc, PlannedDriver, PlanOptions } from './tpc/plan.js';
export { ShutdownError, StartError, DriverStartError } from './drivers/shared/errors.js';
export { QueueFullError } from './drivers/shared/mailbox.js';
export type { StartOptions, SpawnOptions, ShutdownOptions } from './drivers/main/runtime.js';
export { spawn, sleep, timeout, interval, yieldIfNeeded, driverInfo, sharedBuffer } from './drivers/shared/api.js';
export { SharedBuffer } from './drivers/shared/shared-buffer.js';
export { defineTask, taskContext } from './drivers/shared/tasks.js';
export type { Task, TaskArgs, TaskResult } from './drivers/shared/tasks.js';
export type { TaskContext, TaskFn } from './drivers/shared/tasks.js';
export { DriverDiedError } from './drivers/shared/mailbox.js';
export { RouteError } from './drivers/shared/router.js';
export { CodecError } from './drivers/protocol/codec.js';
export { TimeoutError, AbortedError } from './drivers/shared/errors.js';
export type { RuntimeKnobs, TaskQueueSettings } from './tpc/settings.js';
export { channel, onChannel, ChannelHandlerError } from './drivers/shared/channels.js';
export type { Channel, ChannelHandler } from './drivers/shared/channels.js';
export type { RuntimeStats } from './drivers/main/control.js';
export { io } from './drivers/shared/api.js';
export { defineTcpHandler, defineUdpHandler, defineHttpHandler } from './net/handlers.js';
export type { TcpHandlers, UdpHandlers, HttpHandlers } from './net/handlers.js';
export type { HttpRequest } from './net/http/request.js';
export type { HttpResponse } from './net/http/response.js';
export type { FetchContext } from './net/http/fetch.js';
export type { HttpServerStats } from './drivers/protocol/messages.js';
export { TcpConnection } from './net/tcp.js';
export { UdpSocket, UdpPeer } from './net/udp.js';
export { PortError, PortHandlerError } from './net/errors.js';
export type { EffectiveConfig } from './net/fingerprint.js';
export type { PortConfig, PortOptions, Protocol, HttpOptions } from './tpc/ports.js';
export type { PortInfo, DriverStall } from './drivers/main/runtime.js';
export { IoBuffer, IoError, IoBufferBusyError } from './drivers/shared/io.js';
