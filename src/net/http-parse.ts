// The HTTP/1.1 request parser (native/http_parser.h: llhttp 8.1 and the
// guards it lacks), over one connection's chunks as they arrive. The HTTP
// port server (issue 8) will run it on the connection's driver; this is
// its interface for tests and tools.
import { native, type HttpParseLimits, type RawHttpEvent } from '../native.js';

/** Parses `chunks` in order as one connection's bytes: heads, body pieces, ends, or the error a server answers with (400, 413, 414, 431, 501, 505). */
export function httpParse(chunks: Uint8Array[], limits: Partial<HttpParseLimits> = {}): RawHttpEvent[] {
  return native().httpParse(chunks, limits);
}
