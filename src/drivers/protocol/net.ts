// The port servers' shared memory, spoken by native/net_engine.h and
// src/net/: the event block a ring's NetEngine writes and JS reads after
// each turn, and the records JS stages for sends.
//
// Event block (one per driver ring, allocated by src/net/reactor.ts, owned
// by the ring from netAttach on):
//   [0, 64)          header: u32 at 0 = events written (written with
//                    release order; JS re-reads it while it dispatches,
//                    since a submit mid-batch may add events); u32 at 4 =
//                    how many JS has handled: the next turn drops those and
//                    moves any later ones to the front
//   [64, 64+16*E)    events, 16 bytes each (NetEvent):
//                      u8 type, u8 server, u16 bid, u32 conn, u32 len, i32 aux
//   then S * u32     per connection slot: bytes queued for sending (the
//                    engine writes it; write() reads it for backpressure)
//   then staging     (64-aligned) where JS copies the bytes of OP_NET_SEND /
//                    OP_NET_SENDTO; the engine copies them out when it reads
//                    the command. Part of the block so that the ring frees it
//                    with the rest, also when the driver's thread dies.
export const NET_HEADER_BYTES = 64;
export const NET_EVENT_BYTES = 16;

export const enum NetEv {
  /** conn accepted */
  Open = 1,
  /** conn: `len` bytes in buffer `bid` */
  Data = 2,
  /** conn: the peer shut down its sending side */
  End = 3,
  /** conn: the send queue emptied after write() returned false */
  Drain = 4,
  /** conn is gone; aux: 0 or a negated errno */
  Close = 5,
  /** UDP: `len` payload bytes at offset `aux` of buffer `bid`; conn = the peer's address length */
  Message = 6,
}

/** OP_NET_SEND flag: send a Drain event when the queue empties */
export const SEND_WANT_DRAIN = 1;
/** OP_NET_SENDTO record: this many bytes of address (sockaddr, u32 length at 28), then the payload */
export const SENDTO_HEADER = 32;
/** a received datagram's buffer: io_uring_recvmsg_out (16 bytes), then the peer's sockaddr */
export const RECVMSG_NAME_AT = 16;

/** Connection ids: slot in the low 20 bits, a generation above. */
export const SLOT_MASK = (1 << 20) - 1;

/** Offset of the staging area in the block. */
export function stagingAt(events: number, slots: number): number {
  return Math.ceil((NET_HEADER_BYTES + events * NET_EVENT_BYTES + slots * 4) / 64) * 64;
}

export function netBlockBytes(events: number, slots: number, staging: number): number {
  return stagingAt(events, slots) + staging;
}

/** Bytes of a buffer ring's block: the ring (16 bytes per entry), then the buffers. */
export function bufferBlockBytes(count: number, size: number): number {
  return count * 16 + count * size;
}
