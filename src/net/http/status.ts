// Status lines, built once per status code.
import { STATUS_CODES } from 'node:http';

const lines = new Map<number, string>();

/** "HTTP/1.1 200 OK\r\n" */
export function statusLine(code: number): string {
  let l = lines.get(code);
  if (l === undefined) lines.set(code, (l = `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'Unknown'}\r\n`));
  return l;
}
