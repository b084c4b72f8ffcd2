// Errors of the port servers.
import { ErrnoName } from './errno.js';
import { describeThrown } from '../drivers/protocol/codec.js';

/** A port handler threw; reported as the runtime's 'error' event, the port keeps serving. */
export class PortHandlerError extends Error {
  override readonly name = 'PortHandlerError';
  readonly code = 'GATIO_PORT_HANDLER';
  constructor(
    /** "tcp:9000" */
    readonly port: string,
    readonly handler: string,
    /** the callback that threw: open, data, message... */
    readonly callback: string,
    /** the driver it ran on */
    readonly driver: number,
    cause: unknown,
  ) {
    super(`gatio: ${port}: handler "${handler}" ${callback}() on driver ${driver} threw: ${describeThrown(cause)}`, { cause });
  }
}

/** start() or listen() refused a port: the drivers could not listen, or did not get the same config. */
export class PortError extends Error {
  override readonly name = 'PortError';
  constructor(
    message: string,
    readonly code: 'GATIO_PORT_LISTEN' | 'GATIO_PORT_MISMATCH' | 'GATIO_PORT_HANDLER_MISSING',
    /** "tcp:9000" */
    readonly port: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An Error for a negated errno from the kernel, with .code ("ECONNRESET") and .errno. */
export function errnoError(errno: number, what: string): Error & { code: string; errno: number } {
  const code = ErrnoName(errno);
  return Object.assign(new Error(`${what}: ${code}`), { code, errno: -errno });
}

/** Where a handler's failure goes (the main thread's 'error' event). */
export type HandlerErrorSink = (port: string, handler: string, callback: string, err: unknown) => void;
