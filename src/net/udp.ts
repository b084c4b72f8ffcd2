// A UDP port server's socket and its peers, as message() sees them
// (driver threads). A peer keeps the raw socket address the kernel gave,
// so replying to it costs no parsing; its text form is made on first use.
import { SENDTO_HEADER } from '../drivers/protocol/net.js';

/** What a UDP socket asks of its driver's reactor (reactor.ts implements it). */
export interface DatagramOps {
  sendTo(sock: UdpSocket, bytes: Uint8Array | string, peer: UdpPeer): void;
}

const AF_INET = 2;
const AF_INET6 = 10;

export class UdpPeer {
  /** @internal sockaddr bytes (28), length at byte 28 */
  readonly raw: Uint8Array;
  #text: { address: string; port: number; family: 'IPv4' | 'IPv6' } | undefined;

  /** @internal */
  constructor(raw: Uint8Array) {
    this.raw = raw;
  }

  /** A peer to send to: an IPv4 or IPv6 address and a port. */
  static of(address: string, port: number): UdpPeer {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`UdpPeer.of: port must be 1..65535, got ${port}`);
    const raw = new Uint8Array(SENDTO_HEADER);
    const dv = new DataView(raw.buffer);
    const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
    if (v4) {
      dv.setUint16(0, AF_INET, true);
      dv.setUint16(2, port, false);
      for (let i = 0; i < 4; i++) raw[4 + i] = Number(v4[i + 1]);
      dv.setUint32(28, 16, true);
    } else {
      dv.setUint16(0, AF_INET6, true);
      dv.setUint16(2, port, false);
      raw.set(parseIPv6(address), 8);
      dv.setUint32(28, 28, true);
    }
    return new UdpPeer(raw);
  }

  get address(): string {
    return this.#decode().address;
  }

  get port(): number {
    return this.#decode().port;
  }

  get family(): 'IPv4' | 'IPv6' {
    return this.#decode().family;
  }

  #decode() {
    if (this.#text) return this.#text;
    const dv = new DataView(this.raw.buffer, this.raw.byteOffset, this.raw.byteLength);
    const port = dv.getUint16(2, false);
    if (dv.getUint16(0, true) === AF_INET) {
      this.#text = { address: `${this.raw[4]}.${this.raw[5]}.${this.raw[6]}.${this.raw[7]}`, port, family: 'IPv4' };
    } else {
      const parts: string[] = [];
      for (let i = 0; i < 8; i++) parts.push(dv.getUint16(8 + 2 * i, false).toString(16));
      this.#text = { address: compressIPv6(parts), port, family: 'IPv6' };
    }
    return this.#text;
  }
}

function parseIPv6(s: string): Uint8Array {
  const out = new Uint8Array(16);
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) throw new RangeError(`UdpPeer.of: "${s}" is not an IPv4 or IPv6 address`);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** Eight hex groups as an IPv6 address's text, the longest run of zero groups as "::". */
export function compressIPv6(parts: string[]): string {
  // The longest run of zero groups becomes "::" (RFC 5952).
  let best = -1, len = 0;
  for (let i = 0; i < 8; ) {
    if (parts[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && parts[j] === '0') j++;
    if (j - i > len && j - i > 1) (best = i), (len = j - i);
    i = j;
  }
  if (best < 0) return parts.join(':');
  return `${parts.slice(0, best).join(':')}::${parts.slice(best + len).join(':')}`;
}

export class UdpSocket {
  /** @internal */ readonly reactor: DatagramOps;
  /** @internal */ readonly server: number;
  readonly localPort: number;
  /** @internal the io driver that owns the socket, or -1 */
  readonly src: number;

  /** @internal */
  constructor(reactor: DatagramOps, server: number, localPort: number, src = -1) {
    this.reactor = reactor;
    this.server = server;
    this.localPort = localPort;
    this.src = src;
  }

  /** Sends one datagram to `peer` (sent with the driver's next turn). */
  send(bytes: Uint8Array | string, peer: UdpPeer): void {
    if (!(peer instanceof UdpPeer)) throw new TypeError('UdpSocket.send: peer must be the UdpPeer message() got, or UdpPeer.of(address, port)');
    this.reactor.sendTo(this, bytes, peer);
  }
}
