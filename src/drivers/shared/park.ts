// Wakeups: eventfds, and parking a thread on one under its own libuv loop
// (native/wake.cc; design in docs/drivers.md, "Wakeups and parking").
//
// A parked driver is a thread sleeping in libuv's epoll_wait with a
// ParkWatch on its eventfd: it takes no CPU while nothing happens
// (test/park.test.mjs asserts under 5% over a second), and Node's timers,
// promises and I/O on that thread keep running. Whoever wants it awake writes the eventfd; the
// watch drains it and calls back.
import { native, type RawParkWatch } from '../../native.js';

/** A new eventfd (non-blocking, close-on-exec). */
export function eventfdCreate(): number {
  return native().eventfdCreate();
}

/** Adds 1 to the eventfd's counter: wakes whoever polls it. Any thread. */
export function eventfdWrite(fd: number): void {
  native().eventfdWrite(fd);
}

/** Reads and resets the counter; 0 when nothing was written since the last read. */
export function eventfdRead(fd: number): number {
  return native().eventfdRead(fd);
}

export function eventfdClose(fd: number): void {
  native().eventfdClose(fd);
}

/**
 * Calls `onWake` on this thread, from its libuv loop, each time `fd` (an
 * eventfd) has been written, after draining it. Several writes before the
 * callback runs make one call. Promise jobs queued by `onWake` run right
 * after it (MakeCallback semantics); an exception from it is an uncaught
 * exception, as from a timer. If polling the fd fails (it was closed under
 * the watch), `onWake` gets the Error once and the watch stops.
 *
 * Keeps the thread's event loop alive while open (like a timer) unless
 * unref()'d. It keeps running if this object is garbage collected, so keep
 * it and close() it. Closed automatically when the thread's environment
 * goes away. Close the watch before closing its fd.
 */
export class ParkWatch {
  readonly fd: number;
  readonly #handle: RawParkWatch;

  constructor(fd: number, onWake: (err?: Error) => void) {
    if (typeof onWake !== 'function') throw new TypeError('ParkWatch: onWake must be a function');
    this.fd = fd;
    this.#handle = native().parkWatch(fd, onWake);
  }

  /** Stops callbacks at once; idempotent. No callback runs after close() returns. */
  close(): void {
    this.#handle.close();
  }

  get closed(): boolean {
    return this.#handle.closed;
  }

  /** The watch keeps the thread's event loop alive (the default). */
  ref(): this {
    this.#handle.ref();
    return this;
  }

  /** The watch no longer keeps the event loop alive on its own. */
  unref(): this {
    this.#handle.unref();
    return this;
  }

  hasRef(): boolean {
    return this.#handle.hasRef();
  }
}

/** An owned eventfd: the wakeup a driver parks on. */
export class EventFd {
  readonly fd: number;
  #closed = false;

  constructor() {
    this.fd = eventfdCreate();
  }

  /** Wakes the watcher (any thread may call native eventfdWrite(fd) with this.fd). */
  signal(): void {
    this.#check('signal');
    eventfdWrite(this.fd);
  }

  /** Reads and resets the counter. */
  drain(): number {
    this.#check('drain');
    return eventfdRead(this.fd);
  }

  /** A ParkWatch on this eventfd, on the calling thread's loop. */
  watch(onWake: (err?: Error) => void): ParkWatch {
    this.#check('watch');
    return new ParkWatch(this.fd, onWake);
  }

  /** Closes the fd; idempotent. Close its watches first. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    eventfdClose(this.fd);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #check(op: string): void {
    if (this.#closed) throw new Error(`EventFd.${op}: eventfd ${this.fd} is closed`);
  }
}
