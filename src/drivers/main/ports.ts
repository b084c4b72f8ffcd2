// Opening a port on its drivers (main thread), at start(), rt.listen() and
// when a restarted driver rejoins: the first driver listens (for port 0 it
// picks the number the others then use), then the others; every driver
// reports the config it actually got and its fingerprint; they must all
// agree before any of them accepts (net/fingerprint.ts). A port that fails
// is closed on every driver that had opened it, and the error names the
// port, the drivers and the fields that differ.
import type { PlannedDriver } from '../../tpc/plan.js';
import type { Protocol, ResolvedPort } from '../../tpc/ports.js';
import { differences, type EffectiveConfig } from '../../net/fingerprint.js';
import { PortError } from '../../net/errors.js';
import type { ListenReply, ListenRequest } from '../../net/reactor.js';
import { ControlOp } from '../protocol/messages.js';
import type { RawListenResult } from '../../native.js';
import { constants as osConstants } from 'node:os';
import { NetSetupAt, SETUP_CLOSE_CONNS, SETUP_FORCE_RCVBUF, SETUP_NODELAY, SETUP_REUSEPORT, SETUP_UDP, SetupOp, bufferBlockBytes } from '../protocol/net.js';
import { effectiveConfig, fingerprint } from '../../net/fingerprint.js';
import type { RemoteAttach } from '../../net/remote.js';

export type Control = (driver: number, op: ControlOp, body: unknown, timeoutMs: number) => Promise<unknown>;

/** A port being served, as rt.ports() reports it. */
export interface OpenPort {
  key: string;
  protocol: Protocol;
  host: string;
  /** the port number (the kernel's pick, for a port configured as 0) */
  port: number;
  handler: string;
  /** driver id -> its server index and fingerprint */
  drivers: Map<number, { server: number; fingerprint: string }>;
  /** what every driver of the port got */
  effective: EffectiveConfig;
  fingerprint: string;
  /** the config entry, for drivers that rejoin after a restart */
  spec: ResolvedPort;
  /**
   * The drivers' sockets in the kernel's reuseport group order (steering
   * 'cpu' maps CPUs to indices of it): joined in listen order; a socket that
   * leaves is replaced by the last one (the kernel's reuseport_detach_sock).
   */
  order: number[];
  /** served by io drivers (their exec drivers run the handlers) */
  io?: boolean;
  /** io ports: each io driver's buffer ring block (exec drivers that re-attach need it) */
  bufBlocks?: Map<number, number>;
  /** io ports: the exec drivers the listens named, with their inbox generation then (see runtime.openPortSpec) */
  execGens?: Map<number, number>;
}

const TIMEOUT_MS = 10_000;

function request(spec: ResolvedPort, d: PlannedDriver, port: number, steer: number[]): ListenRequest {
  return { key: spec.key, protocol: spec.protocol, host: spec.host, port, handler: spec.handler, options: spec.byTpc[d.tpc] ?? spec.options, steer };
}

function label(d: PlannedDriver): string {
  return `driver ${d.id} (${d.name})`;
}

/** Opens `spec` on its drivers and starts it once all agree; throws PortError otherwise. */
export async function openPort(spec: ResolvedPort, drivers: PlannedDriver[], control: Control): Promise<OpenPort> {
  const opened: Array<{ d: PlannedDriver; reply: ListenReply }> = [];
  const closeOpened = async () => {
    await Promise.all(opened.map(({ d, reply }) => control(d.id, ControlOp.NetStop, [reply.server, true], TIMEOUT_MS).catch(() => {})));
  };
  const cpu = spec.options.steering === 'cpu';
  const listen = async (d: PlannedDriver, port: number) => {
    // CPU steering: the program attached by each socket covers the group so far; the last one's covers all.
    const steer = cpu ? [...opened.map((o) => o.d.pu), d.pu] : [];
    try {
      const reply = (await control(d.id, ControlOp.Listen, request(spec, d, port, steer), TIMEOUT_MS)) as ListenReply;
      opened.push({ d, reply });
      return reply;
    } catch (err) {
      const e = err as Error;
      const missing = /no port handler named|is a (tcp|udp|http) handler/.test(e.message);
      throw new PortError(`gatio: ${spec.key}: ${label(d)} could not listen on ${spec.host}:${port}: ${e.message}`, missing ? 'GATIO_PORT_HANDLER_MISSING' : 'GATIO_PORT_LISTEN', spec.key, { cause: err });
    }
  };
  try {
    const first = await listen(drivers[0]!, spec.port);
    const port = first.effective.port;
    // One after the other with CPU steering (the group's order is the listen order), else all at once.
    const rest: PromiseSettledResult<ListenReply>[] = [];
    if (cpu) for (const d of drivers.slice(1)) rest.push(...(await Promise.allSettled([listen(d, port)])));
    else rest.push(...(await Promise.allSettled(drivers.slice(1).map((d) => listen(d, port)))));
    const failed = rest.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const replies = [first, ...rest.map((r) => (r as PromiseFulfilledResult<ListenReply>).value)];
    const odd = replies.map((r, i) => ({ d: drivers[i]!, r })).filter(({ r }) => r.fingerprint !== first.fingerprint);
    if (odd.length > 0) {
      const lines = odd.map(({ d, r }) => `${label(d)} vs ${label(drivers[0]!)}: ${differences(first.effective, r.effective).join('; ')}`);
      throw new PortError(
        `gatio: ${spec.key}: the drivers serving it did not get the same config (every driver of a port must, before it takes traffic):\n  ${lines.join('\n  ')}`,
        'GATIO_PORT_MISMATCH',
        spec.key,
      );
    }
    await Promise.all(replies.map((r, i) => control(drivers[i]!.id, ControlOp.NetStart, [r.server], TIMEOUT_MS)));
    return {
      key: spec.key,
      protocol: spec.protocol,
      host: spec.host,
      port,
      handler: spec.handler,
      drivers: new Map(replies.map((r, i) => [drivers[i]!.id, { server: r.server, fingerprint: r.fingerprint }])),
      effective: first.effective,
      fingerprint: first.fingerprint,
      spec,
      order: drivers.map((d) => d.id),
    };
  } catch (err) {
    await closeOpened();
    throw err;
  }
}

/** A restarted driver takes its place in a port again, if it gets the same config as the others. */
export async function rejoinPort(open: OpenPort, d: PlannedDriver, drivers: PlannedDriver[], control: Control): Promise<void> {
  let reply: ListenReply;
  leaveGroup(open, d.id);
  const order = [...open.order, d.id];
  const steer = open.spec.options.steering === 'cpu' ? order.map((id) => drivers[id]!.pu) : [];
  try {
    reply = (await control(d.id, ControlOp.Listen, request(open.spec, d, open.port, steer), TIMEOUT_MS)) as ListenReply;
  } catch (err) {
    throw new PortError(`gatio: ${open.key}: restarted ${label(d)} could not listen again: ${(err as Error).message}`, 'GATIO_PORT_LISTEN', open.key, { cause: err });
  }
  if (reply.fingerprint !== open.fingerprint) {
    await control(d.id, ControlOp.NetStop, [reply.server, true], TIMEOUT_MS).catch(() => {});
    throw new PortError(`gatio: ${open.key}: restarted ${label(d)} got a different config: ${differences(open.effective, reply.effective).join('; ')}; it does not serve the port`, 'GATIO_PORT_MISMATCH', open.key);
  }
  open.order = order;
  await control(d.id, ControlOp.NetStart, [reply.server], TIMEOUT_MS);
  open.drivers.set(d.id, { server: reply.server, fingerprint: reply.fingerprint });
}

/** A driver's socket left the group (its driver died): the last socket takes its index, as in the kernel. */
export function leaveGroup(open: OpenPort, driver: number): void {
  open.drivers.delete(driver);
  const k = open.order.indexOf(driver);
  if (k < 0) return;
  open.order[k] = open.order[open.order.length - 1]!;
  open.order.pop();
}

/** Stops a port on every driver serving it, closing its connections. */
export async function closePort(open: OpenPort, control: Control, ctx?: IoPortContext): Promise<void> {
  await Promise.all(
    [...open.drivers].map(([id, { server }]) =>
      (open.io && ctx
        ? ctx.ioSetup(id, SetupOp.Stop, (m) => (m.setUint16(NetSetupAt.Server, server, true), m.setUint8(NetSetupAt.Flags, SETUP_CLOSE_CONNS)))
        : control(id, ControlOp.NetStop, [server, true], TIMEOUT_MS)
      ).catch(() => {}),
    ),
  );
  open.drivers.clear();
}

// ---- io + exec: the sockets on io drivers, the handlers on exec drivers ----

/** An io driver's answer to a NetSetup (native/net_msgs.h NetSetupDoneMsg). */
export interface SetupReply extends RawListenResult {
  ok: boolean;
  /** a negated errno when not ok */
  err: number;
}

/** What opening a port on io drivers needs of the runtime. */
export interface IoPortContext {
  control: Control;
  /** sends a NetSetup (fill writes its fields after the header) and resolves the io driver's answer */
  ioSetup(driver: number, op: SetupOp, fill?: (m: DataView) => void): Promise<SetupReply>;
  alloc(tpc: number, bytes: number, align: number): number;
  free(tpc: number, offset: number): void;
  /** bytes of TPC `tpc`'s arena */
  view(tpc: number, offset: number, bytes: number): Uint8Array;
  /** driver `id` is running (not dead, not restarting) */
  running(id: number): boolean;
  /** the exec drivers that run the connections of io driver `io` (its SMT sibling, else its TPC's) */
  execsFor(io: PlannedDriver): PlannedDriver[];
  /** the inbox generation of driver `id` now */
  generation(id: number): number;
  /** io driver `io`'s per-slot send-queue array for its current incarnation; `fresh` the first time (the io driver takes it) */
  queuedBlock(io: PlannedDriver): { offset: number; fresh: boolean };
  /** the staging ring exec driver `exec` writes its sends to io driver `io` into */
  staging(exec: PlannedDriver, io: PlannedDriver): number;
}

export const IO_SLOTS = 65536;
export const STAGING_BYTES = 1 << 20;

function parseHost(host: string): { family: number; bytes: number[] } {
  if (host.includes(':')) {
    const [head, tail] = host.includes('::') ? host.split('::') : [host, undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    return { family: 6, bytes: groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]) };
  }
  return { family: 4, bytes: host.split('.').map(Number) };
}

/** Listens on io driver `d` for `spec` and attaches its exec drivers; resolves what it got. */
async function listenIo(spec: ResolvedPort, d: PlannedDriver, port: number, steer: number[], ctx: IoPortContext): Promise<{ reply: ListenReply; bufBlock: number }> {
  const o = spec.byTpc[d.tpc] ?? spec.options;
  // Only running exec drivers: one restarting joins once it has attached (the runtime sees to it).
  const execs = ctx.execsFor(d).filter((e) => ctx.running(e.id));
  if (execs.length === 0) throw new PortError(`gatio: ${spec.key}: ${label(d)} has no exec driver in its TPC running to run the handlers`, 'GATIO_PORT_LISTEN', spec.key);
  // The setup message holds 8 exec drivers and 8 steering CPUs: more execs join after the listen (ExecJoined), more CPUs go in a block.
  const inMessage = execs.slice(0, 8);
  const steerBlock = steer.length > 8 ? ctx.alloc(d.tpc, 2 * steer.length, 64) : -1;
  if (steerBlock >= 0) ctx.view(d.tpc, steerBlock, 2 * steer.length).set(new Uint8Array(new Uint16Array(steer).buffer));
  const bufBlock = ctx.alloc(d.tpc, bufferBlockBytes(o.bufCount, o.bufSize), 4096);
  const q = ctx.queuedBlock(d);
  const addr = parseHost(spec.host);
  const r = await ctx.ioSetup(d.id, SetupOp.Listen, (m) => {
    m.setFloat64(NetSetupAt.BufBlock, bufBlock, true);
    m.setFloat64(NetSetupAt.QueuedBlock, q.fresh ? q.offset : -1, true);
    m.setUint32(NetSetupAt.Slots, IO_SLOTS, true);
    m.setUint32(NetSetupAt.BufCount, o.bufCount, true);
    m.setUint32(NetSetupAt.BufSize, o.bufSize, true);
    m.setUint32(NetSetupAt.MaxConnections, o.maxConnections, true);
    m.setUint32(NetSetupAt.HighWater, o.highWater, true);
    m.setUint32(NetSetupAt.MaxQueued, o.maxQueued, true);
    m.setInt32(NetSetupAt.Backlog, o.backlog, true);
    m.setInt32(NetSetupAt.RcvBuf, o.rcvBuf, true);
    m.setInt32(NetSetupAt.SndBuf, o.sndBuf, true);
    m.setUint16(NetSetupAt.Port, port, true);
    m.setUint8(NetSetupAt.Family, addr.family);
    m.setUint8(NetSetupAt.Flags, SETUP_REUSEPORT | (o.noDelay ? SETUP_NODELAY : 0) | (spec.protocol === 'udp' ? SETUP_UDP : 0) | (o.forceRcvBuf ? SETUP_FORCE_RCVBUF : 0));
    addr.bytes.forEach((b, i) => m.setUint8(NetSetupAt.Addr + i, b));
    inMessage.forEach((e, i) => {
      m.setUint16(NetSetupAt.Execs + 2 * i, e.id + 1, true);
      m.setUint16(NetSetupAt.ExecGens + 2 * i, ctx.generation(e.id) & 0xffff, true);
    });
    m.setUint8(NetSetupAt.NExecs, inMessage.length);
    m.setUint8(NetSetupAt.NSteer, Math.min(8, steer.length));
    steer.slice(0, 8).forEach((c, i) => m.setUint16(NetSetupAt.Steer + 2 * i, c, true));
    m.setFloat64(NetSetupAt.SteerBlock, steerBlock, true);
    m.setUint16(NetSetupAt.NSteerAll, steer.length, true);
  }).finally(() => steerBlock >= 0 && ctx.free(d.tpc, steerBlock)); // the io driver copied the CPUs at the listen
  if (!r.ok) {
    ctx.free(d.tpc, bufBlock);
    const e = Object.assign(new Error(`${errnoText(-r.err)}`), { errno: r.err });
    throw new PortError(`gatio: ${spec.key}: ${label(d)} could not listen on ${spec.host}:${port}: ${e.message}`, 'GATIO_PORT_LISTEN', spec.key, { cause: e });
  }
  // The exec drivers run the handlers: each must have the port's handler, with one shape.
  const shapes = await Promise.all(
    execs.map(async (e) => {
      const a: RemoteAttach = {
        io: d.id,
        ioEndpoint: d.id + 1,
        server: r.server,
        key: `${spec.protocol}:${r.port}`,
        protocol: spec.protocol,
        port: r.port,
        handler: spec.handler,
        buffers: bufBlock + o.bufCount * 16,
        bufSize: o.bufSize,
        highWater: o.highWater,
        http: o.http,
        queuedBlock: q.offset,
        slots: IO_SLOTS,
        staging: ctx.staging(e, d),
        stagingBytes: STAGING_BYTES,
      };
      try {
        return ((await ctx.control(e.id, ControlOp.NetAttach, a, TIMEOUT_MS)) as { shape: string }).shape;
      } catch (err) {
        const msg = (err as Error).message;
        const missing = /no port handler named|is a (tcp|udp|http) handler/.test(msg);
        throw new PortError(`gatio: ${spec.key}: ${label(e)} cannot run the handlers of ${label(d)}: ${msg}`, missing ? 'GATIO_PORT_HANDLER_MISSING' : 'GATIO_PORT_LISTEN', spec.key, { cause: err });
      }
    }),
  ).catch(async (err) => {
    await ctx.ioSetup(d.id, SetupOp.Stop, (m) => (m.setUint16(NetSetupAt.Server, r.server, true), m.setUint8(NetSetupAt.Flags, SETUP_CLOSE_CONNS))).catch(() => {});
    throw err;
  });
  for (const e of execs.slice(8)) await ctx.ioSetup(d.id, SetupOp.ExecJoined, (m) => joined(m, r.server, e, ctx));
  const odd = shapes.findIndex((sh) => sh !== shapes[0]);
  const effective = effectiveConfig({ ...spec, options: o }, shapes[0]!, r);

  if (odd > 0) {
    await ctx.ioSetup(d.id, SetupOp.Stop, (m) => (m.setUint16(NetSetupAt.Server, r.server, true), m.setUint8(NetSetupAt.Flags, SETUP_CLOSE_CONNS))).catch(() => {});
    throw new PortError(`gatio: ${spec.key}: the exec drivers running ${label(d)}'s connections did not get the same handler: ${label(execs[odd]!)} vs ${label(execs[0]!)}: shape: ${JSON.stringify(shapes[odd])} vs ${JSON.stringify(shapes[0])}`, 'GATIO_PORT_MISMATCH', spec.key);
  }
  return { reply: { server: r.server, effective, fingerprint: fingerprint(effective) }, bufBlock };
}

function errnoText(errno: number): string {
  const name = Object.entries(osConstants.errno).find(([, v]) => v === errno)?.[0];
  return name ?? `errno ${errno}`;
}

/** Opens `spec` on io drivers (their exec drivers run the handlers) and starts it once all agree. */
export async function openIoPort(spec: ResolvedPort, drivers: PlannedDriver[], ctx: IoPortContext): Promise<OpenPort> {
  const opened: Array<{ d: PlannedDriver; reply: ListenReply }> = [];
  const stopAll = () =>
    Promise.all(opened.map(({ d, reply }) => ctx.ioSetup(d.id, SetupOp.Stop, (m) => (m.setUint16(NetSetupAt.Server, reply.server, true), m.setUint8(NetSetupAt.Flags, SETUP_CLOSE_CONNS))).catch(() => {})));
  const cpu = spec.options.steering === 'cpu';
  const bufBlocks = new Map<number, number>();
  const execGens = new Map<number, number>();
  try {
    let port = spec.port;
    for (const d of drivers) {
      for (const e of ctx.execsFor(d)) if (ctx.running(e.id)) execGens.set(e.id, ctx.generation(e.id));
      const steer = cpu ? [...opened.map((o) => o.d.pu), d.pu] : [];
      const { reply, bufBlock } = await listenIo(spec, d, port, steer, ctx);
      opened.push({ d, reply });
      bufBlocks.set(d.id, bufBlock);
      port = reply.effective.port;
    }
    const first = opened[0]!.reply;
    const odd = opened.filter(({ reply }) => reply.fingerprint !== first.fingerprint);
    if (odd.length > 0) {
      const lines = odd.map(({ d, reply }) => `${label(d)} vs ${label(drivers[0]!)}: ${differences(first.effective, reply.effective).join('; ')}`);
      throw new PortError(`gatio: ${spec.key}: the drivers serving it did not get the same config (every driver of a port must, before it takes traffic):\n  ${lines.join('\n  ')}`, 'GATIO_PORT_MISMATCH', spec.key);
    }
    for (const { d, reply } of opened) {
      const r = await ctx.ioSetup(d.id, SetupOp.Start, (m) => m.setUint16(NetSetupAt.Server, reply.server, true));
      if (!r.ok) throw new PortError(`gatio: ${spec.key}: ${label(d)} could not start accepting: ${errnoText(-r.err)}`, 'GATIO_PORT_LISTEN', spec.key);
    }
    return {
      key: spec.key,
      protocol: spec.protocol,
      host: spec.host,
      port: first.effective.port,
      handler: spec.handler,
      drivers: new Map(opened.map(({ d, reply }) => [d.id, { server: reply.server, fingerprint: reply.fingerprint }])),
      effective: first.effective,
      fingerprint: first.fingerprint,
      spec,
      order: drivers.map((d) => d.id),
      io: true,
      bufBlocks,
      execGens,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** A restarted io driver serves its ports again: listens, its exec drivers attach, compared with the port's fingerprint. */
export async function rejoinIoPort(open: OpenPort, d: PlannedDriver, drivers: PlannedDriver[], ctx: IoPortContext): Promise<void> {
  leaveGroup(open, d.id);
  const order = [...open.order, d.id];
  const steer = open.spec.options.steering === 'cpu' ? order.map((id) => drivers[id]!.pu) : [];
  const { reply, bufBlock } = await listenIo(open.spec, d, open.port, steer, ctx);
  open.bufBlocks?.set(d.id, bufBlock);
  if (reply.fingerprint !== open.fingerprint) {
    await ctx.ioSetup(d.id, SetupOp.Stop, (m) => (m.setUint16(NetSetupAt.Server, reply.server, true), m.setUint8(NetSetupAt.Flags, SETUP_CLOSE_CONNS))).catch(() => {});
    throw new PortError(`gatio: ${open.key}: restarted ${label(d)} got a different config: ${differences(open.effective, reply.effective).join('; ')}; it does not serve the port`, 'GATIO_PORT_MISMATCH', open.key);
  }
  open.order = order;
  await ctx.ioSetup(d.id, SetupOp.Start, (m) => m.setUint16(NetSetupAt.Server, reply.server, true));
  open.drivers.set(d.id, { server: reply.server, fingerprint: reply.fingerprint });
}

/** An ExecJoined setup: exec driver `e` runs connections of `server` (with its inbox generation now). */
function joined(m: DataView, server: number, e: PlannedDriver, ctx: IoPortContext): void {
  m.setUint16(NetSetupAt.Server, server, true);
  m.setUint16(NetSetupAt.Died, e.id + 1, true);
  m.setUint16(NetSetupAt.ExecGens, ctx.generation(e.id) & 0xffff, true);
}

/** Exec driver `exec` died: io driver `io` closes the connections it ran, takes back what was lent to it, and routes it nothing until it joins again. */
export async function execDiedOn(io: PlannedDriver, exec: PlannedDriver, ctx: IoPortContext): Promise<void> {
  await ctx.ioSetup(io.id, SetupOp.ExecDied, (m) => (m.setUint16(NetSetupAt.Died, exec.id + 1, true), m.setUint16(NetSetupAt.DiedGen, ctx.generation(exec.id) & 0xffff, true)));
}

/** A restarted exec driver attaches again to the port's io drivers whose connections it runs. */
export async function execRestarted(open: OpenPort, exec: PlannedDriver, drivers: PlannedDriver[], ctx: IoPortContext): Promise<void> {
  for (const [ioId, { server }] of open.drivers) {
    const io = drivers[ioId]!;
    if (!ctx.execsFor(io).some((e) => e.id === exec.id)) continue;
    const o = open.spec.byTpc[io.tpc] ?? open.spec.options;
    const stagingBlock = ctx.staging(exec, io);
    const a: RemoteAttach = {
      io: ioId,
      ioEndpoint: ioId + 1,
      server,
      key: open.key,
      protocol: open.protocol,
      port: open.port,
      handler: open.handler,
      buffers: open.bufBlocks!.get(ioId)! + o.bufCount * 16,
      bufSize: o.bufSize,
      highWater: o.highWater,
      http: o.http,
      queuedBlock: ctx.queuedBlock(io).offset,
      slots: IO_SLOTS,
      staging: stagingBlock,
      stagingBytes: STAGING_BYTES,
    };
    const { shape } = (await ctx.control(exec.id, ControlOp.NetAttach, a, TIMEOUT_MS)) as { shape: string };
    if (shape !== open.effective.shape) throw new PortError(`gatio: ${open.key}: restarted ${label(exec)} has handler shape ${JSON.stringify(shape)}, the port's is ${JSON.stringify(open.effective.shape)}`, 'GATIO_PORT_MISMATCH', open.key);
    // Attached: the io driver routes connections to it again (it stopped at ExecDied).
    await ctx.ioSetup(ioId, SetupOp.ExecJoined, (m) => joined(m, server, exec, ctx));
  }
}
