// `gatio run` and `gatio stats`: a running runtime answers on a Unix socket
// (one per process, named after its pid), and the stats come back as JSON or
// as a readable table.
import { createConnection, createServer, type Server } from 'node:net';
import { existsSync, readdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatSize } from '../../tpc/size.js';
import type { Runtime } from './runtime.js';
import type { HttpServerStats, PortServerStats as PortStats, TaskQueueStats } from '../protocol/messages.js';

export type RuntimeStats = Awaited<ReturnType<Runtime['stats']>>;

export function controlDir(): string {
  return process.env.XDG_RUNTIME_DIR || tmpdir();
}

export function socketPath(pid: number): string {
  return join(controlDir(), `gatio-${pid}.sock`);
}

/** Serves `stats` requests for `rt` on this process's socket; close() removes it. */
export function serveControl(rt: Runtime): Promise<Server> {
  const path = socketPath(process.pid);
  if (existsSync(path)) unlinkSync(path); // a stale socket of an earlier process with our pid
  const server = createServer((conn) => {
    conn.setEncoding('utf8');
    let line = '';
    conn.on('data', (d) => {
      line += d;
      if (!line.includes('\n')) return;
      const cmd = line.trim();
      if (cmd === 'stats') {
        rt.stats().then(
          (s) => conn.end(JSON.stringify(s)),
          (err: Error) => conn.end(JSON.stringify({ error: err.message })),
        );
      } else conn.end(JSON.stringify({ error: `unknown command "${cmd}" (expected "stats")` }));
    });
    conn.on('error', () => {});
  });
  server.unref();
  server.on('close', () => {
    try {
      unlinkSync(path);
    } catch {
      /* already gone */
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

/** The pids of processes with a gatio control socket, live ones only. */
export function runningPids(): number[] {
  const pids: number[] = [];
  for (const f of readdirSync(controlDir())) {
    const m = /^gatio-(\d+)\.sock$/.exec(f);
    if (!m) continue;
    const pid = Number(m[1]);
    try {
      process.kill(pid, 0);
      pids.push(pid);
    } catch {
      /* dead process: its socket is stale */
    }
  }
  return pids.sort((a, b) => a - b);
}

/** Asks the runtime of process `pid` for its stats. */
export function fetchStats(pid: number, timeoutMs = 3000): Promise<RuntimeStats> {
  const path = socketPath(pid);
  return new Promise((resolve, reject) => {
    const conn = createConnection(path);
    let out = '';
    const timer = setTimeout(() => conn.destroy(new Error(`no answer from gatio process ${pid} within ${timeoutMs} ms`)), timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write('stats\n'));
    conn.on('data', (d) => (out += d));
    conn.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? new Error(`no gatio runtime answers for process ${pid} (${path})`) : err);
    });
    conn.on('end', () => {
      clearTimeout(timer);
      try {
        const v = JSON.parse(out);
        if (v.error) reject(new Error(`gatio process ${pid}: ${v.error}`));
        else resolve(v);
      } catch (err) {
        reject(new Error(`gatio process ${pid} sent a malformed answer: ${(err as Error).message}`));
      }
    });
  });
}

function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function formatStats(s: RuntimeStats): string {
  const out: string[] = [];
  out.push(
    table(
      ['DRIVER', 'NAME', 'KIND', 'PU', 'STATE', 'TASKS', 'FAILED', 'PENDING', 'INBOX', 'BUSY', 'PARKS', 'WAKEUPS', 'RING SUB/DONE', 'RESTARTS'],
      s.drivers.map((d) => [
        d.id,
        d.name,
        d.kind,
        d.pu,
        d.state,
        d.tasksRun,
        d.tasksFailed,
        d.pending,
        d.inboxDepth,
        `${Math.round(d.busy * 100)}%`,
        d.parks,
        d.wakeups,
        `${d.ringSubmissions}/${d.ringCompletions}`,
        d.restarts,
      ]),
    ),
  );
  const qrows: (string | number)[][] = [];
  for (const d of s.drivers) {
    for (const q of (d.queues as TaskQueueStats[] | null) ?? []) {
      qrows.push([
        d.name,
        q.name,
        q.shares,
        q.latency ? `${q.latency.maxDelayMs} ms` : '-',
        q.vruntime.toFixed(1),
        q.runtimeMs.toFixed(1),
        q.started,
        q.running,
        q.pending,
        q.maxDelayMs.toFixed(2),
      ]);
    }
  }
  if (qrows.length) {
    out.push('', table(['DRIVER', 'QUEUE', 'SHARES', 'LATENCY', 'VRUNTIME', 'CPU MS', 'STARTED', 'RUNNING', 'WAITING', 'MAX DELAY MS'], qrows));
  }
  // Port servers, per port and driver (src/net/reactor.ts stats()).
  const prows: (string | number)[][] = [];
  for (const d of s.drivers) {
    for (const p of (d.ports as PortStats[] | null) ?? []) {
      prows.push([p.port, d.name, p.open, p.accepted, p.refused, formatSize(p.bytesIn), formatSize(p.bytesOut), p.recvs, p.enobufs, p.rearms, p.buffersLent, p.sendsInFlight, p.datagrams, p.truncated, p.handlerErrors]);
    }
  }
  if (prows.length) {
    out.push('', table(['PORT', 'DRIVER', 'OPEN', 'ACCEPTED', 'REFUSED', 'IN', 'OUT', 'RECVS', 'ENOBUFS', 'RE-ARMS', 'LENT', 'SENDING', 'DGRAMS', 'TRUNCATED', 'HANDLER ERR'], prows));
  }
  // HTTP ports, per port and the driver that runs the handler (hybrid: ports; exec: remotePorts).
  const hrows: (string | number)[][] = [];
  for (const d of s.drivers) {
    for (const p of [...((d.ports as PortStats[] | null) ?? []), ...((d.remotePorts as Array<{ port: string; http?: HttpServerStats }> | null) ?? [])]) {
      const h = p.http;
      if (h) hrows.push([p.port, d.name, h.connections, h.requests, h.status1xx, h.status2xx, h.status3xx, h.status4xx, h.status5xx, h.parseErrors, h.headersTimeouts + h.requestTimeouts + h.idleTimeouts, h.aborted, h.handlerErrors]);
    }
  }
  if (hrows.length) out.push('', table(['HTTP PORT', 'DRIVER', 'CONNS', 'REQUESTS', '1XX', '2XX', '3XX', '4XX', '5XX', 'PARSE ERR', 'TIMEOUTS', 'ABORTED', 'HANDLER ERR'], hrows));
  out.push(
    '',
    table(
      ['TPC', 'NODE', 'CPUSET', 'ARENA', 'IN USE', 'HIGH WATER', 'FAILED ALLOCS'],
      s.tpcs.map((t) => [t.name, t.node, t.cpuset, formatSize(t.arena.bytes), formatSize(t.arena.inUse), formatSize(t.arena.highWater), t.arena.failed]),
    ),
  );
  const r = s.routing;
  out.push('', `routing: ${Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', ')}; main thread: ${s.main.outstanding} calls outstanding, ${s.main.backlog} messages backlogged`);
  return out.join('\n');
}
