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
/** the write came after one that returned false, before its drain: over maxQueued, such a connection is closed */
export const SEND_AFTER_FALSE = 2;

/** The flags of a send command of connection `c` (its write()'s state: see PortSide.write). */
export function sendFlags(c: { wantDrain: boolean; afterFalse: boolean }, wantDrain: boolean): number {
  return (wantDrain ? SEND_WANT_DRAIN : 0) | (c.afterFalse ? SEND_AFTER_FALSE : 0);
}
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

// ---- io + exec: the messages between an io driver and its exec drivers
// (native/net_msgs.h, whose static asserts pin these offsets).

/** exec -> io (Kind.NetCmd), 40 bytes */
export const enum NetCmdAt {
  Op = 1, // u8: OP_NET_*
  Gen = 2, // u16: the io driver's inbox generation
  Conn = 4, // u32
  Staging = 8, // f64: the sender's staging ring (arena offset)
  Pos = 16, // f64: where the bytes start, in bytes ever written to it
  Len = 24, // u32
  Server = 28, // u8
  Flags = 29, // u8
  Bid = 30, // u16
  From = 32, // u16: the sender's endpoint
  FromGen = 34, // u16: the sender's inbox generation
  Bytes = 40,
}

/** io -> exec (Kind.NetEvent), 48 bytes */
export const enum NetEventAt {
  Type = 1, // u8: NetEv
  Driver = 2, // u16: the io driver
  Conn = 4, // u32
  Len = 8, // u32
  Aux = 12, // i32
  Bid = 16, // u16
  Server = 18, // u8
  Gen = 20, // u16: the exec driver's generation it is meant for
  Family = 22, // u8: Open: 4 or 6
  PeerPort = 24, // u16
  Peer = 32, // 16 bytes
  Bytes = 48,
}

/** main -> io (Kind.NetSetup), 160 bytes */
export const enum NetSetupAt {
  Op = 1, // u8: SetupOp
  ReplyTo = 2, // u16
  Gen = 4, // u16
  Server = 6, // u16
  CallId = 8, // f64
  BufBlock = 16, // f64
  QueuedBlock = 24, // f64 (-1: already attached)
  Slots = 32, // u32
  BufCount = 36,
  BufSize = 40,
  MaxConnections = 44,
  HighWater = 48,
  MaxQueued = 52,
  Backlog = 56, // i32
  RcvBuf = 60,
  SndBuf = 64,
  Port = 68, // u16
  Family = 70, // u8
  Flags = 71, // u8: SETUP_*
  Addr = 72, // 16 bytes
  Execs = 88, // u16 x 8
  NExecs = 104, // u8
  NSteer = 105, // u8
  Steer = 108, // u16 x 8
  Died = 124, // u16
  DiedGen = 126, // u16
  ExecGens = 128, // u16 x 8
  SteerBlock = 144, // f64: Listen with more than 8 steering CPUs: an arena block of u16 CPUs (NSteerAll of them); -1 otherwise
  NSteerAll = 152, // u16
  Bytes = 160,
}
export const enum SetupOp {
  Listen = 1,
  Start = 2,
  Stop = 3,
  ExecDied = 4,
  /** an exec driver's successor attached to `server`: route its connections to it again (`Died` names it) */
  ExecJoined = 5,
}
export const SETUP_REUSEPORT = 1;
export const SETUP_NODELAY = 2;
export const SETUP_UDP = 4;
export const SETUP_CLOSE_CONNS = 8;
/** rcvBuf is the runtime's default: SO_RCVBUFFORCE where permitted (past net.core.rmem_max) */
export const SETUP_FORCE_RCVBUF = 16;

/** io -> main (Kind.NetSetupDone), 48 bytes */
export const enum NetSetupDoneAt {
  Ok = 1, // u8
  Driver = 2, // u16
  Err = 4, // i32
  CallId = 8, // f64
  Server = 16, // i32
  Fd = 20,
  Port = 24,
  Backlog = 28,
  RcvBuf = 32,
  SndBuf = 36,
  ReusePort = 40, // u8
  NoDelay = 41, // u8
  Bytes = 48,
}

/** An exec driver's staging ring for one io driver: header (u64 written, u64 consumed, u64 size), then the bytes. */
export const STAGING_HEADER = 64;

/**
 * An io driver's net block (allocated by the main thread at its first
 * listen, then the io driver's): u32 send-queue size per connection slot,
 * then IO_NET_STAT_SERVERS x IO_NET_STAT_FIELDS f64 counters per server
 * index (field 0: 1 if in use; then IO_NET_STAT_NAMES), which the io driver
 * rewrites each turn (NetEngine::WriteStats).
 */
export const IO_NET_STAT_SERVERS = 32;
export const IO_NET_STAT_FIELDS = 24;
export const IO_NET_STAT_NAMES = ['accepted', 'refused', 'open', 'closed', 'bytesIn', 'bytesOut', 'recvs', 'sends', 'sendsInFlight', 'enobufs', 'rearms', 'buffersLent', 'acceptErrors', 'acceptBackoffs', 'datagrams', 'truncated', 'sendErrors', 'incomingLocal', 'incomingOther', 'throttles'] as const;
