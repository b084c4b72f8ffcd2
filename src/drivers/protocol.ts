// Messages between threads: the first bytes of every queue slot. Fixed
// headers are written with DataView-free little-endian typed-array stores
// into a scratch buffer, followed by a codec-encoded body.
//
//   byte 0      kind (a BIG bit 0x80 means: the body is in an arena block)
//   byte 1      flags (RESULT: 1 = ok, 0 = error)
//   bytes 2-3   u16: SPAWN: queue index; CHANNEL: sender endpoint
//   bytes 4-7   u32: SPAWN: task index; CONTROL: op; CHANNEL: channel id
//   bytes 8-15  f64: call id (SPAWN, RESULT, CANCEL)
//   bytes 16-17 u16: SPAWN, CANCEL: the caller's endpoint (where replies go)
//   bytes 18-23 reserved
//   bytes 24-   body (codec), or for BIG: f64 arena offset, u32 length, u16 arena index
export const enum Kind {
  Spawn = 1,
  Result = 2,
  Cancel = 3,
  Channel = 4,
  Control = 5,
}

export const BIG = 0x80;
export const HEADER = 24;

export const enum ControlOp {
  /** stop taking new work; finish what was accepted */
  Drain = 1,
  /** abort running tasks, close the ring, exit */
  Exit = 2,
  /** reply with scheduler stats (body: call id in header) */
  Stats = 3,
  /** a driver died: reject calls in flight to it (body: driver id) */
  DriverDied = 4,
  /** change a queue's shares (body: [queue name, shares]) */
  SetShares = 5,
}

/** Endpoint 0 is the main thread; driver d is endpoint d + 1. */
export const MAIN_ENDPOINT = 0;
export const endpointOfDriver = (driver: number) => driver + 1;
export const driverOfEndpoint = (endpoint: number) => endpoint - 1;
