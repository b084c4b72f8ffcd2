// Byte sizes written as numbers or strings: 1048576, "256MiB", "1.5GiB", "64k".

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** Parses a size; throws an Error whose message says what was wrong (no path: callers add it). */
export function parseSize(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0 || !Number.isInteger(value)) {
      throw new Error(`${value} is not a whole, non-negative number of bytes`);
    }
    return value;
  }
  if (typeof value !== 'string') throw new Error(`expected bytes (a number) or a size string like "256MiB", got ${typeof value}`);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new Error(`"${value}" is not a size (expected bytes or a string like "256MiB", "1GiB", "512KiB")`);
  }
  return Math.floor(Number(m[1]) * unit);
}

/** Formats bytes for people: 268435456 -> "256 MiB", 4523765760 -> "4.2 GiB". */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = bytes;
  let u = 0;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return `${Number.isInteger(x) ? x : x.toFixed(1)} ${units[u]}`;
}
