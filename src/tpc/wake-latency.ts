// How long a parked driver's core may take to wake (runtime.wakeLatencyUs).
//
// A driver is pinned: when it parks its core goes idle, and the kernel's
// cpuidle governor may put it in a deep state (C6 on bare metal; on a VM,
// a halt that hands the vCPU back to the hypervisor). Waking the driver then
// waits for that core to come back (on this project's VM: p99 1-2 ms, see
// docs/benchmarks.md, "Cold calls"), while an unpinned thread would have
// been woken on a core that is already running. The kernel's per-CPU PM QoS
// bound (pm_qos_resume_latency_us) restricts a core's idle states to those
// that exit within the bound: 0 leaves only polling in the idle loop. The
// thread still sleeps (no CPU time charged to it, the core free for any
// other thread); the core does not power down, which costs power, and on a
// VM a host CPU. Hence opt-in.
//
// The limit is the CPU's, not the process's: it is undone at shutdown and
// at process exit, but a process killed with SIGKILL leaves it in place
// (`gatio doctor` reports CPUs with a bound).
import { readFileSync, writeFileSync } from 'node:fs';

/** sysfs root of the CPU devices; GATIO_SYSFS_CPU points tests at a directory of their own (error paths only). */
const cpuRoot = (): string => process.env.GATIO_SYSFS_CPU ?? '/sys/devices/system/cpu';
export const wakeLatencyFile = (cpu: number | 'N'): string => `${cpuRoot()}/cpu${cpu}/power/pm_qos_resume_latency_us`;

/** A CPU's bound as sysfs states it: µs, or null when it has none ("0" in sysfs: any idle state). */
export function readWakeLatency(cpu: number): number | null {
  const text = readFileSync(wakeLatencyFile(cpu), 'utf8').trim();
  if (text === 'n/a') return 0; // no idle state may be entered: poll
  const us = Number(text);
  return us === 0 ? null : us;
}

/** What sysfs takes: "n/a" is a bound of 0 µs; "0" removes the bound. */
const sysfsValue = (us: number | null): string => (us === null ? '0' : us === 0 ? 'n/a' : String(us));

const live = new Set<WakeLatencyLimit>();
let exitHook = false;

/** The bound on a set of CPUs, held until release() (or process exit). */
export class WakeLatencyLimit {
  readonly #previous = new Map<number, number | null>();

  /** Bounds each CPU's wake latency to `us`; on any failure the CPUs done so far are restored and it throws, naming the CPU and file. */
  constructor(cpus: readonly number[], us: number) {
    try {
      for (const cpu of new Set(cpus)) {
        const file = wakeLatencyFile(cpu);
        let previous: number | null;
        try {
          previous = readWakeLatency(cpu);
          writeFileSync(file, sysfsValue(us));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          const why =
            code === 'ENOENT'
              ? 'this kernel has no per-CPU PM QoS for it'
              : code === 'EACCES' || code === 'EPERM'
                ? 'writing it needs root'
                : (err as Error).message;
          throw new Error(`gatio: runtime.wakeLatencyUs: cannot bound CPU ${cpu}'s wake latency (${file}): ${code ?? 'error'}: ${why}; unset runtime.wakeLatencyUs to leave the CPUs' idle states to the kernel`, { cause: err });
        }
        this.#previous.set(cpu, previous);
      }
    } catch (err) {
      this.release();
      throw err;
    }
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      // A process that exits without shutdown() must not leave its cores polling.
      process.on('exit', () => {
        for (const l of live) l.release();
      });
    }
  }

  /** Puts back each CPU's previous bound. Idempotent; a CPU that cannot be restored is skipped (it was writable a moment ago). */
  release(): void {
    for (const [cpu, previous] of this.#previous) {
      try {
        writeFileSync(wakeLatencyFile(cpu), sysfsValue(previous));
      } catch {
        // Nothing better to do at shutdown; doctor reports a bound left behind.
      }
    }
    this.#previous.clear();
    live.delete(this);
  }
}
