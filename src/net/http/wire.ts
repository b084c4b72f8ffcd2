// The records native/http.cc's HttpWire writes for the HTTP port servers of
// one thread, and reading them. One native call per received buffer parses
// it and leaves, in this thread's record block (in the TPC's arena; only
// this thread reads it), one record per request head, body piece, request
// end or refusal. A head's header names and values stay bytes until a handler
// asks for one; body pieces are offsets into the received buffer.
//
// Layout (little-endian; http.cc writes the same; the offsets are OutAt,
// HeadAt, FieldAt, BodyAt and ErrorAt below):
//   out[0]  u32 bytes of records, out[4] u32 parser phase (0 between
//           requests, 1 in a head, 2 in a body), records from 16, 8-aligned:
//   head:   u8 1, u8 flags, u16 headers, u32 size, f64 content length (-1),
//           u8 major, u8 minor, u16 method length, u32 URL at, u32 URL
//           length, u32 method at, then per header u32 name at, name
//           length, value at, value length (offsets from the record's
//           start; names lowercased)
//   body:   u8 2, u32 size at 4, u32 offset in the fed bytes, u32 length
//   end:    u8 3, u32 size at 4
//   error:  u8 4, u16 status at 2, u32 size at 4, u16 code length,
//           u16 reason length, the code, the reason
import { native, type HttpParseLimits } from '../../native.js';
import type { Arena } from '../../tpc/arena.js';

declare global {
  interface Buffer {
    /** Node's own latin1 decoder (what toString('latin1', a, b) calls, without its argument checks) */
    latin1Slice(start: number, end: number): string;
    /** Node's own UTF-8 encoder into the buffer (what write(s, at, n) calls); returns the bytes written */
    utf8Write(s: string, at: number, max: number): number;
  }
}

export const enum Rec {
  Head = 1,
  Body = 2,
  End = 3,
  Error = 4,
}

export const FLAG_KEEP_ALIVE = 1;
export const FLAG_CHUNKED = 2;
export const FLAG_EXPECT_CONTINUE = 4;
export const FLAG_UPGRADE = 8;

/** The record block's own header: bytes of records, the parser's phase; the records follow. */
export const enum OutAt {
  RecordBytes = 0,
  Phase = 4,
}
export const RECORDS_AT = 16;

/** Every record: its kind (Rec) at 0, its size at 4. */
export const REC_SIZE_AT = 4;

export const enum HeadAt {
  Flags = 1,
  Headers = 2,
  ContentLength = 8,
  Minor = 17,
  MethodLength = 18,
  UrlAt = 20,
  UrlLength = 24,
  MethodAt = 28,
  /** the header fields, FieldAt.Bytes each */
  Fields = 32,
}

/** One header of a head record (offsets from the record's start). */
export const enum FieldAt {
  NameAt = 0,
  NameLength = 4,
  ValueAt = 8,
  ValueLength = 12,
  Bytes = 16,
}

export const enum BodyAt {
  /** in the fed bytes */
  Offset = 8,
  Length = 12,
}

export const enum ErrorAt {
  Status = 2,
  CodeLength = 8,
  ReasonLength = 10,
  /** the code, then the reason */
  Text = 12,
}

export interface NativeHttpWire {
  open(limits: HttpParseLimits): number;
  close(id: number): void;
  /** parses up to `len` bytes at arena offset `off`; returns how many it took (call again for the rest, after reading the records) */
  feed(id: number, off: number, len: number): number;
}

/** This thread's parsers and their record block. */
export class Wire {
  readonly native: NativeHttpWire;
  readonly out: Buffer;
  readonly dv: DataView;
  readonly arena: Arena;
  /**
   * Requests whose head is still a record in the block: their responses
   * ended while the handler ran, so nothing copied them, yet the handler
   * may keep them (waitUntil() work, a log line after res.end()). The next
   * parse overwrites the block with other requests' heads (other clients'
   * credentials): keepLive() copies theirs first, one copy for them all.
   */
  readonly live: Array<{ rec: Buffer; at: number }> = [];

  constructor(arena: Arena, bytes: number) {
    // The records live in the TPC's arena (on its NUMA node), in a block this thread alone reads.
    // It is never freed: the thread's parsers write there until the driver's thread ends.
    const block = arena.alloc(bytes, 64);
    this.arena = arena;
    this.native = new (native().HttpWire)(arena.id, block.offset, bytes) as NativeHttpWire;
    this.out = Buffer.from(arena.buffer, block.offset, bytes);
    this.dv = new DataView(arena.buffer, block.offset, bytes);
  }

  /** Gives the live requests a copy of their records (before a parse overwrites the block). */
  keepLive(): void {
    const l = this.live;
    const out = this.out;
    let lo = out.length;
    let hi = 0;
    for (const r of l) {
      if (r.rec !== out) continue; // (detached meanwhile)
      if (r.at < lo) lo = r.at;
      const end = r.at + out.readUInt32LE(r.at + REC_SIZE_AT);
      if (end > hi) hi = end;
    }
    if (hi > lo) {
      const copy = Buffer.from(out.subarray(lo, hi)); // (a copy: small ones come from Node's pool)
      for (const r of l) if (r.rec === out) (r.rec = copy), (r.at -= lo);
    }
    l.length = 0;
  }

  /** The record block a port's limits need: its slices must fit the records of a head as large as maxHeaderBytes. */
  static bytesFor(maxHeaderBytes: number): number {
    return Math.max(512 * 1024, 8 * maxHeaderBytes + 128 * 1024);
  }
}

/** The thread's wire for `arena`, grown (a new one) when a port needs a larger record block. */
let current: Wire | undefined; // (the driver's module instance creates every port server of its thread)

export function wireFor(arena: Arena, maxHeaderBytes: number): Wire {
  const need = Wire.bytesFor(maxHeaderBytes);
  if (current && current.arena === arena && current.out.length >= need) return current;
  // (parsers opened on an older wire stay on it: each server keeps the wire it started with)
  return (current = new Wire(arena, need));
}

/** A head record's method, as an interned string for the common ones. */
export function methodOf(out: Buffer, at: number, len: number): string {
  const c = out[at];
  if (len === 3) {
    if (c === 71 && out[at + 1] === 69 && out[at + 2] === 84) return 'GET';
    if (c === 80 && out[at + 1] === 85 && out[at + 2] === 84) return 'PUT';
  } else if (len === 4) {
    if (c === 80 && out[at + 1] === 79 && out[at + 2] === 83 && out[at + 3] === 84) return 'POST';
    if (c === 72 && out[at + 1] === 69 && out[at + 2] === 65 && out[at + 3] === 68) return 'HEAD';
  } else if (len === 6 && c === 68) return 'DELETE';
  else if (len === 5 && c === 80 && out[at + 1] === 65) return 'PATCH';
  else if (len === 7 && c === 79) return 'OPTIONS';
  return out.latin1Slice(at, at + len);
}
