// Shared by the benchmarks: each measurement runs in a child process of its
// own (a fresh runtime, no JIT or GC state carried over), and results are
// summarised by their median.
import { spawn } from 'node:child_process';

/** Runs `node script ...args` and resolves its stdout parsed as JSON, or `{ ...tag, error }`. */
export function runChild(script, args, tag, timeoutMs = 300_000) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve(code === 0 ? JSON.parse(out) : { ...tag, error: `exit ${code}` });
      } catch (err) {
        resolve({ ...tag, error: String(err) });
      }
    });
  });
}

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}
