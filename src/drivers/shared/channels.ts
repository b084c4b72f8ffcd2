// Channels: named, fire-and-forget messages between the main thread and
// drivers, for what is not a task call (configuration pushes, cache
// invalidations, fan-out). A driver (or the main thread) listens with
// onChannel(name, handler); anyone sends with channel(name).send(to, value)
// or .broadcast(value). Sending applies backpressure: the promise resolves
// once the message is in the receiver's queue, so `await ch.send(...)` in a
// loop never outruns a slow receiver and nothing is dropped.
import type { Mailbox } from './mailbox.js';
import { threadRuntime } from './thread.js';
import { threadSlot } from '../slot.js';
import { Stat } from '../protocol/layout.js';
import { MAIN_ENDPOINT, driverOfEndpoint, endpointOfDriver } from '../protocol/messages.js';
import { describeThrown } from '../protocol/codec.js';

export type ChannelHandler<T = unknown> = (value: T, from: { driver: number | null }) => void;

/** This thread's handlers by channel name (in the thread's slot: both builds of gatio see them). */
function handlers(): Map<string, ChannelHandler[]> {
  const slot = threadSlot();
  return (slot.channels ??= new Map<string, ChannelHandler[]>()) as Map<string, ChannelHandler[]>;
}

/** Listens on channel `name` on this thread (a driver, from a task module, or the main thread). Returns a function that stops listening. */
export function onChannel<T = unknown>(name: string, handler: ChannelHandler<T>): () => void {
  if (typeof name !== 'string' || name === '') throw new TypeError('onChannel: the name must be a non-empty string');
  if (typeof handler !== 'function') throw new TypeError(`onChannel("${name}"): the handler must be a function`);
  const map = handlers();
  const list = map.get(name) ?? [];
  list.push(handler as ChannelHandler);
  map.set(name, list);
  return () => {
    const i = list.indexOf(handler as ChannelHandler);
    if (i >= 0) list.splice(i, 1);
  };
}

/** A channel handler threw (or rejected): reported by the runtime ('error' event), never thrown into the loop. */
export class ChannelHandlerError extends Error {
  override readonly name = 'ChannelHandlerError';
  readonly code = 'GATIO_CHANNEL_HANDLER';
  constructor(
    /** the channel whose handler failed */
    readonly channel: string,
    /** the driver it ran on; null: the main thread */
    readonly driver: number | null,
    cause: unknown,
  ) {
    super(`gatio: a handler of channel "${channel}" on ${driver === null ? 'the main thread' : `driver ${driver}`} failed: ${describeThrown(cause)}`, { cause });
  }
}

/**
 * Runs the handlers of a received message; a message nobody listens to is
 * counted, not an error. A handler that throws, or returns a promise that
 * rejects, is reported to `onError` and the other handlers still run: one
 * bad handler must not stop the loop that delivers messages.
 */
export function deliverChannel(fromEndpoint: number, body: unknown, onError: (channel: string, err: unknown) => void): boolean {
  const [name, value] = body as [string, unknown];
  const list = handlers().get(name);
  if (!list || list.length === 0) return false;
  const from = { driver: fromEndpoint === MAIN_ENDPOINT ? null : driverOfEndpoint(fromEndpoint) };
  for (const h of [...list]) {
    try {
      const r = h(value, from) as unknown;
      if (r instanceof Promise) r.catch((err: unknown) => onError(name, err));
    } catch (err) {
      onError(name, err);
    }
  }
  return true;
}

export interface Channel<T> {
  /** To one driver (its id), or to the main thread ('main'). Resolves when the message is queued. */
  send(to: number | 'main', value: T): Promise<void>;
  /** To every live driver that runs JavaScript, or those of one TPC. Resolves when all are queued. */
  broadcast(value: T, opts?: { tpc?: number }): Promise<void>;
}

export function channel<T = unknown>(name: string): Channel<T> {
  if (typeof name !== 'string' || name === '') throw new TypeError('channel: the name must be a non-empty string');
  return {
    send: (to, value) => {
      const mailbox = context();
      const endpoint = to === 'main' ? MAIN_ENDPOINT : endpointFor(mailbox, to);
      const p = sendOne(mailbox, endpoint, name, value);
      mailbox.poke();
      return p;
    },
    broadcast: (value, opts = {}) => {
      const mailbox = context();
      const targets = mailbox.layout.drivers.filter(
        (d) => d.kind !== 'io' && (opts.tpc === undefined || d.tpc === opts.tpc) && mailbox.stats(d.id)[Stat.Alive] === 1,
      );
      if (opts.tpc !== undefined && !mailbox.layout.drivers.some((d) => d.tpc === opts.tpc)) {
        return Promise.reject(new Error(`channel "${name}": there is no TPC ${opts.tpc}`));
      }
      const all = Promise.all(targets.map((d) => sendOne(mailbox, endpointOfDriver(d.id), name, value)));
      mailbox.poke();
      return all.then(() => undefined);
    },
  };
}

function sendOne(mailbox: Mailbox, endpoint: number, name: string, value: unknown): Promise<void> {
  let resolve!: () => void;
  const p = new Promise<void>((r) => (resolve = r));
  if (mailbox.sendChannel(endpoint, name, value, resolve)) resolve();
  return p;
}

function endpointFor(mailbox: Mailbox, driver: number): number {
  const d = mailbox.layout.drivers[driver];
  if (!d) throw new RangeError(`channel: no driver ${driver} (drivers 0-${mailbox.layout.drivers.length - 1})`);
  if (d.kind === 'io') throw new Error(`channel: driver ${driver} (${d.name}) is an io driver: it runs no JavaScript`);
  return endpointOfDriver(driver);
}

function context(): Mailbox {
  const mailbox = threadRuntime()?.mailbox;
  if (!mailbox) throw new Error('gatio: channels need a running runtime (start(config) on the main thread, or code running on a driver)');
  return mailbox;
}
