// errno numbers as names (Linux), via Node's own table.
import { constants } from 'node:os';

const byNumber = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

export function ErrnoName(errno: number): string {
  return byNumber.get(errno) ?? `E${errno}`;
}
