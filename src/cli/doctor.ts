// `gatio doctor`: what this machine offers the runtime and what is missing,
// each missing piece with the command or setting that fixes it.
//
// Everything is probed (native/uring_probe.cc tries io_uring for real; the
// arena check allocates on each node and asks move_pages where the pages
// went). The kernel release is shown for people, never used to decide.
// Checks are explained in docs/doctor.md.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { native, packageRoot, type RawPlacement, type RawUringProbe } from '../native.js';
import { Arena } from '../tpc/arena.js';
import { formatList } from '../tpc/cpuset.js';
import { formatSize, parseSize } from '../tpc/size.js';
import { topology } from '../tpc/topology.js';
import { readWakeLatency, wakeLatencyFile } from '../tpc/wake-latency.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  /** stable, dotted: "uring.available", "arena.node0", ... */
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  /** what to do about it; always present on 'fail', usually on 'warn' */
  fix?: string;
}

export interface DoctorNode {
  os: number;
  /** local memory in bytes */
  memory: number;
  cores: number;
  pus: number[];
  allowed: boolean;
}

export interface DoctorArena {
  node: number;
  bytes: number;
  placement?: RawPlacement;
  error?: string;
}

export interface DoctorReport {
  /** true when no check failed (warnings allowed) */
  ok: boolean;
  checks: DoctorCheck[];
  /** os.release(): for display only; nothing is decided from it */
  kernel: string;
  uring: RawUringProbe;
  versions: { liburing: string; hwloc: string; hwlocRuntime: string; numa: string };
  /** RLIMIT_MEMLOCK in bytes, -1 = unlimited */
  memlock: { soft: number; hard: number; capIpcLock: boolean };
  numa: { available: boolean; nodes: DoctorNode[]; topologyError?: string };
  arenas: DoctorArena[];
}

export interface DoctorOptions {
  /** size of the test arena per node; default 2 MiB */
  arenaBytes?: number | string;
  /** skip the arena placement checks (they allocate and fault memory) */
  placement?: boolean;
}

const MIN_MEMLOCK = 64 * 1024 * 1024;

// What the runtime needs from io_uring, with the kernel that introduced each
// piece: used only to word the fix, never to decide.
const SINCE: Record<string, string> = {
  NOP: '5.1', READV: '5.1', WRITEV: '5.1', FSYNC: '5.1', POLL_ADD: '5.1', POLL_REMOVE: '5.1',
  SENDMSG: '5.3', RECVMSG: '5.3', TIMEOUT: '5.4',
  TIMEOUT_REMOVE: '5.5', ACCEPT: '5.5', ASYNC_CANCEL: '5.5', LINK_TIMEOUT: '5.5', CONNECT: '5.5',
  OPENAT: '5.6', CLOSE: '5.6', STATX: '5.6', READ: '5.6', WRITE: '5.6', SEND: '5.6', RECV: '5.6',
  PROVIDE_BUFFERS: '5.7', SHUTDOWN: '5.11', MSG_RING: '5.18', SOCKET: '5.19',
  SEND_ZC: '6.0', SENDMSG_ZC: '6.1', READ_MULTISHOT: '6.7', WAITID: '6.7',
  FUTEX_WAIT: '6.7', FUTEX_WAKE: '6.7', FUTEX_WAITV: '6.7', FIXED_FD_INSTALL: '6.8', FTRUNCATE: '6.9',
  BIND: '6.11', LISTEN: '6.11',
  COOP_TASKRUN: '5.19', SINGLE_ISSUER: '6.0', DEFER_TASKRUN: '6.1',
  PBUF_RING: '5.19', MULTISHOT_ACCEPT: '5.19', MULTISHOT_RECV: '6.0', MSG_RING_WORKS: '5.18',
};

const OPCODE_GROUPS: { id: string; title: string; ops: string[]; required: boolean; why: string }[] = [
  { id: 'uring.opcodes.net', title: 'io_uring networking opcodes', required: true, why: 'sockets are served through the ring',
    ops: ['ACCEPT', 'CONNECT', 'RECV', 'SEND', 'RECVMSG', 'SENDMSG', 'SHUTDOWN', 'CLOSE'] },
  { id: 'uring.opcodes.file', title: 'io_uring file opcodes', required: true, why: 'file I/O goes through the ring',
    ops: ['READ', 'WRITE', 'READV', 'WRITEV', 'FSYNC', 'OPENAT', 'STATX'] },
  { id: 'uring.opcodes.loop', title: 'io_uring loop opcodes', required: true, why: 'the driver loop waits, times out, cancels and wakes through the ring',
    ops: ['NOP', 'MSG_RING', 'TIMEOUT', 'TIMEOUT_REMOVE', 'LINK_TIMEOUT', 'POLL_ADD', 'POLL_REMOVE', 'ASYNC_CANCEL'] },
  { id: 'uring.opcodes.optional', title: 'io_uring optional opcodes', required: false, why: 'faster paths; the runtime works without them',
    ops: ['SOCKET', 'SEND_ZC', 'SENDMSG_ZC', 'READ_MULTISHOT', 'FUTEX_WAIT', 'FUTEX_WAKE', 'FUTEX_WAITV', 'WAITID',
      'FIXED_FD_INSTALL', 'FTRUNCATE', 'BIND', 'LISTEN'] },
];

/**
 * What io_uring on this kernel can do, found by trying it (small rings, a
 * loopback listener, a socket pair). See native/uring_probe.cc.
 */
export function probeIoUring(): RawUringProbe {
  return native().probeIoUring();
}

/** Probes the machine and returns every check plus the raw data behind them. */
export function doctor(opts: DoctorOptions = {}): DoctorReport {
  const n = native();
  const uring = probeIoUring();
  const versions = n.versions();
  const memlock = { ...n.memlockLimit(), capIpcLock: hasCapIpcLock() };
  const numaAvailable = n.numaAvailable();
  const numa: DoctorReport['numa'] = { available: numaAvailable, nodes: [] };
  try {
    numa.nodes = topology().nodes.map((x) => ({ os: x.os, memory: x.memory, cores: x.cores.length, pus: x.pus, allowed: x.allowed }));
  } catch (err) {
    numa.topologyError = (err as Error).message;
  }
  const arenaBytes = parseSize(opts.arenaBytes ?? '2MiB');
  const arenas =
    opts.placement === false ? [] : numa.nodes.filter((x) => x.allowed && x.memory > 0).map((x) => probeArena(x.os, arenaBytes));

  const checks: DoctorCheck[] = [
    ...uringChecks(uring),
    memlockCheck(memlock),
    ...libraryChecks(versions, numaAvailable),
    nodesCheck(numa),
    ...arenas.map(arenaCheck),
    wakeLatencyCheck(numa.nodes.filter((x) => x.allowed).flatMap((x) => x.pus)),
  ];
  return { ok: checks.every((c) => c.status !== 'fail'), checks, kernel: release(), uring, versions, memlock, numa, arenas };
}

// ---- idle states -------------------------------------------------------------

/** CPUs whose wake latency is bounded (runtime.wakeLatencyUs, tpc/wake-latency.ts): set by a runtime now, left by a killed one, or the administrator's. */
function wakeLatencyCheck(pus: number[]): DoctorCheck {
  const id = 'cpu.wakeLatency';
  const title = 'CPU wake latency bounds';
  const bounded = new Map<number, number[]>();
  let readable = 0;
  for (const pu of pus) {
    let us: number | null;
    try {
      us = readWakeLatency(pu);
    } catch {
      continue;
    }
    readable++;
    if (us !== null) bounded.set(us, [...(bounded.get(us) ?? []), pu]);
  }
  if (readable === 0) return { id, title, status: 'ok', detail: 'no per-CPU PM QoS on this kernel: runtime.wakeLatencyUs cannot be used' };
  if (bounded.size === 0) return { id, title, status: 'ok', detail: 'none: the kernel chooses the idle states of every CPU (runtime.wakeLatencyUs can bound them while a runtime runs)' };
  const list = [...bounded].map(([us, cpus]) => `CPU ${formatList(cpus)} at ${us} µs${us === 0 ? ' (they poll when idle)' : ''}`).join(', ');
  return {
    id,
    title,
    status: 'warn',
    detail: `${list}: a runtime running with runtime.wakeLatencyUs, one killed before it could undo it, or the administrator's setting`,
    fix: `if no runtime is running, remove the bound: echo 0 > ${wakeLatencyFile('N')} (for each CPU N)`,
  };
}

// ---- io_uring ----------------------------------------------------------------

function uringChecks(u: RawUringProbe): DoctorCheck[] {
  const sysctl = u.sysctlDisabled === null ? 'kernel.io_uring_disabled absent' : `kernel.io_uring_disabled=${u.sysctlDisabled}`;
  if (!u.ok) {
    // Nothing else about io_uring can be probed without a ring.
    return [{
      id: 'uring.available', title: 'io_uring available', status: 'fail',
      detail: `${u.error} [errno ${u.errno}, ${sysctl}, kernel ${release()}]; the other io_uring checks need a ring and were not run`,
      fix: setupFix(u),
    }];
  }
  const checks: DoctorCheck[] = [
    { id: 'uring.available', title: 'io_uring available', status: 'ok', detail: `rings can be created (${sysctl}, kernel ${release()})` },
  ];
  const s = u.setupFlags;
  checks.push(
    s.SINGLE_ISSUER
      ? { id: 'uring.setup.single_issuer', title: 'ring flag SINGLE_ISSUER', status: 'ok', detail: 'one ring per driver thread, owned by it' }
      : { id: 'uring.setup.single_issuer', title: 'ring flag SINGLE_ISSUER', status: 'fail',
          detail: `IORING_SETUP_SINGLE_ISSUER is rejected${why(u, 'setup.SINGLE_ISSUER')}`, fix: upgrade(['SINGLE_ISSUER']) },
  );
  const taskrun = ['DEFER_TASKRUN', 'COOP_TASKRUN'].filter((f) => s[f]);
  checks.push(
    taskrun.length > 0
      ? { id: 'uring.setup.taskrun', title: 'ring flag DEFER_TASKRUN or COOP_TASKRUN', status: 'ok',
          detail: `available: ${taskrun.join(', ')}${s.DEFER_TASKRUN ? '' : ' (DEFER_TASKRUN missing: completions run on interrupt instead of when the driver asks)'}` }
      : { id: 'uring.setup.taskrun', title: 'ring flag DEFER_TASKRUN or COOP_TASKRUN', status: 'fail',
          detail: 'neither IORING_SETUP_DEFER_TASKRUN nor IORING_SETUP_COOP_TASKRUN is accepted', fix: upgrade(['COOP_TASKRUN', 'DEFER_TASKRUN']) },
  );

  for (const g of OPCODE_GROUPS) {
    const missing = g.ops.filter((op) => !u.opcodes[op]);
    const status: CheckStatus = missing.length === 0 ? 'ok' : g.required ? 'fail' : 'warn';
    checks.push({
      id: g.id, title: g.title, status,
      detail: missing.length === 0
        ? `all ${g.ops.length}: ${g.ops.join(' ')}`
        : `missing ${missing.map((op) => `${op} (${SINCE[op]})`).join(', ')}${u.details.opcodes ? ` [${u.details.opcodes}]` : ''}; ${g.why}`,
      ...(missing.length > 0 ? { fix: upgrade(missing) } : {}),
    });
  }

  const feature = (key: string, id: string, title: string, what: string): DoctorCheck =>
    u.features[key]
      ? { id, title, status: 'ok', detail: what }
      : { id, title, status: 'fail', detail: `does not work here${why(u, key)}; ${what}`, fix: featureFix(u, key) };
  checks.push(
    feature('PBUF_RING', 'uring.pbuf_ring', 'provided-buffer rings', 'received bytes land in arena buffers the kernel picks from a ring'),
    feature('MULTISHOT_ACCEPT', 'uring.multishot_accept', 'multishot accept', 'one accept SQE per listening socket per driver'),
    feature('MULTISHOT_RECV', 'uring.multishot_recv', 'multishot recv', 'one recv SQE per connection'),
    feature('MSG_RING_WORKS', 'uring.msg_ring', 'MSG_RING between rings', 'drivers wake each other by posting to the parked ring'),
  );
  return checks;
}

function why(u: RawUringProbe, key: string): string {
  const d = u.details[key];
  return d ? `: ${d}` : '';
}

function upgrade(missing: string[]): string {
  const newest = missing.map((m) => SINCE[m] ?? '6.1').sort(compareVersions).at(-1);
  return `run on a newer kernel: ${missing.join(', ')} need${missing.length === 1 ? 's' : ''} Linux ${newest} or later (6.1+ recommended for gatio)`;
}

function featureFix(u: RawUringProbe, key: string): string {
  // A probe that could not even open a loopback socket says nothing about the kernel.
  if (/^(socket|bind|listen|connect|accept4|getsockname|send)\b/.test(u.details[key] ?? '')) {
    return 'the probe needs loopback TCP: bring up lo (ip link set lo up) and allow AF_INET sockets, then re-run gatio doctor';
  }
  return upgrade([key]);
}

function setupFix(u: RawUringProbe): string {
  const persist = 'to keep it across reboots: echo kernel.io_uring_disabled=0 > /etc/sysctl.d/60-io_uring.conf';
  if (u.errno === 1 /* EPERM */) {
    if (u.sysctlDisabled === 2) return `enable io_uring (as root): sysctl -w kernel.io_uring_disabled=0\n${persist}`;
    if (u.sysctlDisabled === 1) {
      return (
        'either enable io_uring for everyone (as root): sysctl -w kernel.io_uring_disabled=0\n' +
        'or add the service user to the group named by kernel.io_uring_group (sysctl kernel.io_uring_group), or grant CAP_SYS_ADMIN'
      );
    }
    return (
      'run outside the seccomp profile that blocks io_uring_setup/io_uring_enter/io_uring_register:\n' +
      'docker/podman: --security-opt seccomp=<profile allowing the io_uring_* syscalls> (or seccomp=unconfined to confirm)\n' +
      'Kubernetes: securityContext.seccompProfile with those syscalls allowed; systemd: check the unit\'s SystemCallFilter=\n' +
      'also check AppArmor/SELinux denials (dmesg, ausearch -m avc)'
    );
  }
  if (u.errno === 38 /* ENOSYS */) {
    return 'use a kernel built with CONFIG_IO_URING=y (Linux 6.1+ recommended); if the kernel has it, a seccomp filter answers ENOSYS: run outside it (see docs/doctor.md)';
  }
  if (u.errno === 12 /* ENOMEM */) return memlockFix();
  if (u.errno === 24 || u.errno === 23 /* EMFILE, ENFILE */) return 'raise the open-file limit: ulimit -n 65536 (systemd: LimitNOFILE=)';
  return 'see docs/doctor.md; the error above is what io_uring_setup returned';
}

// ---- process limits and libraries ------------------------------------------

function memlockFix(): string {
  return (
    'raise RLIMIT_MEMLOCK to at least 64 MiB for the service user:\n' +
    'shell: ulimit -l 65536   (KiB; raise the hard limit as root first)\n' +
    '/etc/security/limits.conf: <user>  -  memlock  65536\n' +
    'systemd unit: LimitMEMLOCK=64M;  docker: --ulimit memlock=67108864:67108864'
  );
}

function memlockCheck(m: DoctorReport['memlock']): DoctorCheck {
  const show = (v: number) => (v < 0 ? 'unlimited' : formatSize(v));
  const base = { id: 'memlock', title: 'locked-memory limit (RLIMIT_MEMLOCK)' };
  const detail = `soft ${show(m.soft)}, hard ${show(m.hard)}`;
  if (m.soft < 0 || m.soft >= MIN_MEMLOCK) return { ...base, status: 'ok', detail };
  if (m.capIpcLock) {
    return { ...base, status: 'ok', detail: `${detail}; not enforced: this process has CAP_IPC_LOCK (an unprivileged service user needs 64 MiB or more)` };
  }
  return { ...base, status: 'warn', detail: `${detail}: below 64 MiB; registered buffers are charged to it`, fix: memlockFix() };
}

function hasCapIpcLock(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? ((BigInt(`0x${m[1]}`) >> 14n) & 1n) === 1n : false; // CAP_IPC_LOCK = 14
  } catch {
    return false;
  }
}

function libraryChecks(v: DoctorReport['versions'], numaAvailable: boolean): DoctorCheck[] {
  const rebuild = `rebuild the addon against the installed libraries: (cd ${packageRoot} && npm run build:native)`;
  const major = (s: string) => s.split('.')[0];
  const hwlocOk = major(v.hwloc) === major(v.hwlocRuntime);
  return [
    { id: 'lib.liburing', title: 'liburing', status: 'ok', detail: `built against liburing ${v.liburing}` },
    hwlocOk
      ? { id: 'lib.hwloc', title: 'hwloc', status: 'ok', detail: `built against hwloc ${v.hwloc}; loaded library has API ${v.hwlocRuntime}` }
      : { id: 'lib.hwloc', title: 'hwloc', status: 'fail',
          detail: `built against hwloc ${v.hwloc} but the loaded library has API ${v.hwlocRuntime}: a different major version`, fix: rebuild },
    { id: 'lib.numa', title: 'libnuma', status: 'ok', detail: `built against libnuma ${v.numa}` },
    numaAvailable
      ? { id: 'numa.available', title: 'NUMA support (numa_available)', status: 'ok', detail: 'the kernel answers NUMA calls (mbind, move_pages)' }
      : { id: 'numa.available', title: 'NUMA support (numa_available)', status: 'warn',
          detail: 'numa_available() = -1: the kernel has no NUMA support or the calls are blocked; memory cannot be bound or its placement verified',
          fix: 'use a kernel with CONFIG_NUMA=y; in a container, allow the mbind, set_mempolicy, get_mempolicy and move_pages syscalls' },
  ];
}

// ---- NUMA nodes and arena placement ------------------------------------------

function nodesCheck(numa: DoctorReport['numa']): DoctorCheck {
  const base = { id: 'numa.nodes', title: 'NUMA nodes' };
  if (numa.topologyError) {
    return { ...base, status: 'fail', detail: `hwloc could not load the topology: ${numa.topologyError}`,
      fix: 'check that /sys/devices/system/node and /proc are mounted; run lstopo to see what hwloc reports' };
  }
  const lines = numa.nodes.map(
    (x) => `node ${x.os}: ${formatSize(x.memory)}, ${x.cores} core${x.cores === 1 ? '' : 's'} (PUs ${formatList(x.pus) || 'none'})${x.allowed ? '' : ', not allowed'}`,
  );
  const detail = `${numa.nodes.length} node${numa.nodes.length === 1 ? '' : 's'}: ${lines.join('; ')}`;
  const denied = numa.nodes.filter((x) => !x.allowed).map((x) => x.os);
  const starved = numa.nodes.filter((x) => x.allowed && x.cores > 0 && x.memory === 0).map((x) => x.os);
  if (denied.length === 0 && starved.length === 0) return { ...base, status: 'ok', detail };
  const fixes: string[] = [];
  if (denied.length) fixes.push(`nodes ${formatList(denied)} are excluded by this process's cpuset (cgroup cpuset.mems, numactl --membind, taskset): widen it if gatio should use them`);
  if (starved.length) fixes.push(`nodes ${formatList(starved)} have CPUs but no memory: their TPCs allocate remotely; check the VM/BIOS NUMA layout`);
  return { ...base, status: 'warn', detail, fix: fixes.join('\n') };
}

function probeArena(node: number, bytes: number): DoctorArena {
  let arena: Arena | undefined;
  try {
    arena = Arena.create({ node, bytes, prefault: true });
    return { node, bytes: arena.bytes, placement: arena.placement() };
  } catch (err) {
    return { node, bytes, error: (err as Error).message };
  } finally {
    arena?.close();
  }
}

function arenaCheck(a: DoctorArena): DoctorCheck {
  const base = { id: `arena.node${a.node}`, title: `arena placement on node ${a.node}` };
  if (a.error !== undefined || !a.placement) {
    return { ...base, status: 'fail', detail: `could not create a ${formatSize(a.bytes)} arena bound to node ${a.node}: ${a.error}`,
      fix: `check free memory on node ${a.node} (numastat -m) and the cgroup's cpuset.mems; the error names the failing call` };
  }
  const p = a.placement;
  const here = p.perNode[String(a.node)] ?? 0;
  const elsewhere = Object.entries(p.perNode).filter(([k, v]) => k !== String(a.node) && v > 0);
  const summary = `${p.pages} pages of ${formatSize(p.pageSize)}: ${here} on node ${a.node}` +
    elsewhere.map(([k, v]) => `, ${v} on node ${k}`).join('') +
    (p.notPresent ? `, ${p.notPresent} not present` : '') + (p.errors ? `, ${p.errors} unreadable` : '');
  if (here === p.pages && p.pages > 0) return { ...base, status: 'ok', detail: `${formatSize(a.bytes)} prefaulted; ${summary}` };
  return { ...base, status: 'fail', detail: `${formatSize(a.bytes)} prefaulted but not all on node ${a.node}: ${summary}`,
    fix: `memory binding did not hold: check the cgroup's cpuset.mems (cat /sys/fs/cgroup/<group>/cpuset.mems.effective), ` +
      `numactl wrappers, and free memory on node ${a.node} (numastat -m)` };
}

// ---- output --------------------------------------------------------------------

const MARK: Record<CheckStatus, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL' };

/** The report for people: one line per check, the fix indented under each non-ok one. */
export function formatDoctor(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.title.length));
  const lines = [`gatio doctor: kernel ${report.kernel} (shown only; every feature below was probed)`];
  for (const c of report.checks) {
    lines.push(`${MARK[c.status].padEnd(4)}  ${c.title.padEnd(width)}  ${c.detail}`);
    if (c.status !== 'ok' && c.fix) c.fix.split('\n').forEach((f, i) => lines.push(`${' '.repeat(6)}${i === 0 ? 'fix: ' : '     '}${f}`));
  }
  const count = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length;
  lines.push(`${count('ok')} ok, ${count('warn')} warning${count('warn') === 1 ? '' : 's'}, ${count('fail')} failed: ` +
    (report.ok ? 'this machine can run gatio' : 'gatio cannot run here until the failures are fixed'));
  return lines.join('\n');
}

function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 - b1 || a2 - b2;
}
