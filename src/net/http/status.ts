// Status lines, built once per status code.
import { STATUS_CODES } from 'node:http';

const lines = new Map<number, string>();

/** "HTTP/1.1 200 OK\r\n" */
export function statusLine(code: number): string {
  let l = lines.get(code);
  if (l === undefined) lines.set(code, (l = `HTTP/1.1 ${code} ${reasonPhrase(code)}\r\n`));
  return l;
}

/** "OK", "Not Found", ...: the body of the responses the server writes itself */
export function reasonPhrase(code: number): string {
  return STATUS_CODES[code] ?? 'Unknown';
}
