// Opening a port on its drivers (main thread), at start(), rt.listen() and
// when a restarted driver rejoins: the first driver listens (for port 0 it
// picks the number the others then use), then the others; every driver
// reports the config it actually got and its fingerprint; they must all
// agree before any of them accepts (net/fingerprint.ts). A port that fails
// is closed on every driver that had opened it, and the error names the
// port, the drivers and the fields that differ.
import type { PlannedDriver } from '../../tpc/plan.js';
import type { ResolvedPort } from '../../tpc/ports.js';
import { differences, type EffectiveConfig } from '../../net/fingerprint.js';
import { PortError } from '../../net/errors.js';
import type { ListenReply, ListenRequest } from '../../net/reactor.js';
import { ControlOp } from '../protocol/messages.js';

export type Control = (driver: number, op: ControlOp, body: unknown, timeoutMs: number) => Promise<unknown>;

/** A port being served, as rt.ports() reports it. */
export interface OpenPort {
  key: string;
  protocol: 'tcp' | 'udp';
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
      const missing = /no port handler named|is a (tcp|udp) handler/.test(e.message);
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
export async function closePort(open: OpenPort, control: Control): Promise<void> {
  await Promise.all([...open.drivers].map(([id, { server }]) => control(id, ControlOp.NetStop, [server, true], TIMEOUT_MS).catch(() => {})));
  open.drivers.clear();
}
