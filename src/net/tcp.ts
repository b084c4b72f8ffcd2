// A TCP connection as its handlers see it (driver threads). Cheap: one
// object per connection, no closures; what it does goes to its driver's
// reactor as ring commands, sent with the next turn.
import type { RawPeer } from '../native.js';

/** What a connection asks of its driver's reactor (reactor.ts implements it; this file does not import it). */
export interface ConnectionOps {
  write(c: TcpConnection, bytes: Uint8Array | string): boolean;
  writeParts(c: TcpConnection, prefix: Uint8Array, text: string, body: Uint8Array | string | undefined): boolean;
  end(c: TcpConnection): void;
  close(c: TcpConnection): void;
  pause(c: TcpConnection): void;
  resume(c: TcpConnection): void;
  queued(c: TcpConnection): number;
  peer(c: TcpConnection): RawPeer | null;
}

export class TcpConnection<Data = unknown> {
  /** yours: per-connection state for the handlers */
  data: Data | undefined = undefined;
  /** @internal */ readonly id: number;
  /** @internal */ readonly reactor: ConnectionOps;
  /** @internal its server on the driver */
  readonly server: number;
  /** the local port it was accepted on */
  readonly localPort: number;
  /** @internal */ state: 'open' | 'ending' | 'closed' = 'open';
  /** @internal */ paused = false;
  /** @internal */ wantDrain = false;
  /** @internal the write being staged came while a drain was awaited (write() had said false) */
  afterFalse = false;
  /** @internal bytes staged in the current turn (with the turn they belong to) */
  staged = 0;
  /** @internal */ stagedTurn = -1;
  /** @internal data that arrived while paused, copied: delivered on resume */
  held: Uint8Array[] | undefined = undefined;
  /** @internal the io driver that owns its socket, or -1 (this driver's own ring) */
  readonly src: number;
  #peer: RawPeer | null | undefined = undefined;

  /** @internal */
  constructor(reactor: ConnectionOps, id: number, server: number, localPort: number, src = -1, peer?: RawPeer | null) {
    this.reactor = reactor;
    this.id = id;
    this.server = server;
    this.src = src;
    this.#peer = peer ?? undefined;
    this.localPort = localPort;
  }

  /**
   * Queues bytes (a string is sent as UTF-8). Everything a turn writes to a
   * connection leaves in one send. Returns false once more than the port's
   * highWater is queued: stop writing until `drain`. On a connection that
   * is ending or closed it returns false and sends nothing.
   */
  write(bytes: Uint8Array | string): boolean {
    return this.reactor.write(this, bytes);
  }

  /** @internal write(prefix), write(text), write(body) as one (the HTTP server's responses: one staging copy, one command) */
  writeParts(prefix: Uint8Array, text: string, body?: Uint8Array | string): boolean {
    return this.reactor.writeParts(this, prefix, text, body);
  }

  /** Sends what is queued, then shuts down the sending side; the connection closes once the peer has ended too. */
  end(bytes?: Uint8Array | string): void {
    if (bytes !== undefined) this.write(bytes);
    this.reactor.end(this);
  }

  /** Closes now; what is still queued is dropped. */
  close(): void {
    this.reactor.close(this);
  }

  /** Stops reading (the kernel's socket buffer then applies TCP flow control) until resume(). */
  pause(): void {
    this.reactor.pause(this);
  }

  resume(): void {
    this.reactor.resume(this);
  }

  /** Bytes written but not yet sent (queued in the driver). */
  get bufferedAmount(): number {
    return this.reactor.queued(this);
  }

  get readyState(): 'open' | 'ending' | 'closed' {
    return this.state;
  }

  /** The peer's address (asked of the kernel on first use; undefined once the connection is gone). */
  get remoteAddress(): string | undefined {
    return this.#lookup()?.address;
  }

  get remotePort(): number | undefined {
    return this.#lookup()?.port;
  }

  get remoteFamily(): 'IPv4' | 'IPv6' | undefined {
    return this.#lookup()?.family;
  }

  #lookup(): RawPeer | null {
    if (this.#peer === undefined) this.#peer = this.state === 'closed' ? null : this.reactor.peer(this);
    return this.#peer;
  }
}
