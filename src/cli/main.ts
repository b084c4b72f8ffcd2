// The `gatio` command: topology, plan, doctor. Each subcommand prints a
// readable form by default and JSON with --json; bad input exits 1 with
// every problem listed.
import { parseArgs } from 'node:util';
import { topology, type TopologyOptions } from '../tpc/topology.js';
import { formatTopology } from '../tpc/format-topology.js';
import { plan, formatPlan } from '../tpc/plan.js';
import { loadConfig } from '../tpc/load-config.js';
import { ConfigError, formatIssues, type GatioConfig } from '../tpc/config.js';
import { doctor, formatDoctor } from './doctor.js';
import { dirname, resolve as resolvePath } from 'node:path';
import { start } from '../drivers/main/runtime.js';
import { fetchStats, formatStats, runningPids, serveControl, socketPath } from '../drivers/main/control.js';

const USAGE = `usage: gatio <command> [options]

commands:
  topology [--synthetic DESC | --xml FILE] [--restrict CPUS] [--json]
      the machine (or a described one) as hwloc sees it
  plan [CONFIG] [--synthetic DESC | --xml FILE] [--restrict CPUS] [--json]
      validate CONFIG (.json/.js/.mjs; default { tpcs: 'auto' }) and print the
      plan: TPCs, arenas, and one driver per PU; exit 1 listing every error
  doctor [--json]
      what this machine offers the runtime, what is missing, and the fixes
  run CONFIG [--deadline MS]
      start the runtime for CONFIG (its task modules load on every driver) and
      keep it running; SIGINT/SIGTERM shut it down, letting accepted tasks
      finish for up to MS (default 5000)
  stats [--pid PID] [--json]
      the stats of a running \`gatio run\` (or any process that called
      serveControl): drivers, task queues, arenas, routing
  help
      this text`;

class UsageError extends Error {}

/** Prints a ConfigError as `config <file>: <path>: <why>` lines; rethrows anything else. */
function reportConfigError(cmd: string, err: unknown, file: string | undefined): number {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`gatio ${cmd}: ${err.errors.length} error(s) in ${err.file ?? file ?? 'the default config'}:`);
  console.error(formatIssues(err.errors, err.file ?? file));
  if (err.warnings.length) console.error(formatIssues(err.warnings, err.file ?? file).replace(/^/gm, 'warning: '));
  return 1;
}

function topologyOptions(values: Record<string, unknown>): TopologyOptions {
  const opts: TopologyOptions = {};
  if (values.synthetic !== undefined && values.xml !== undefined) throw new UsageError('give --synthetic or --xml, not both');
  if (typeof values.synthetic === 'string') opts.synthetic = values.synthetic;
  if (typeof values.xml === 'string') opts.xml = values.xml;
  if (typeof values.restrict === 'string') opts.restrict = values.restrict;
  return opts;
}

const topologyFlags = {
  synthetic: { type: 'string' },
  xml: { type: 'string' },
  restrict: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'topology': {
      const { values } = parseArgs({ args: rest, options: topologyFlags, strict: true });
      const t = topology(topologyOptions(values));
      console.log(values.json ? JSON.stringify(t, null, 2) : formatTopology(t));
      return 0;
    }
    case 'plan': {
      const { values, positionals } = parseArgs({ args: rest, options: topologyFlags, strict: true, allowPositionals: true });
      if (positionals.length > 1) throw new UsageError(`plan takes one CONFIG file, got ${positionals.length}`);
      const file = positionals[0];
      const t = topology(topologyOptions(values));
      let config: GatioConfig = {};
      try {
        if (file !== undefined) config = await loadConfig(file);
        const p = plan(t, config, file === undefined ? {} : { file });
        if (p.warnings.length) console.error(formatIssues(p.warnings, file).replace(/^/gm, 'warning: '));
        console.log(values.json ? JSON.stringify(p, null, 2) : formatPlan(p));
        return 0;
      } catch (err) {
        return reportConfigError('plan', err, file);
      }
    }
    case 'run': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { deadline: { type: 'string', default: '5000' } },
        strict: true,
        allowPositionals: true,
      });
      if (positionals.length !== 1) throw new UsageError('run takes one CONFIG file');
      const deadline = Number(values.deadline);
      if (!(deadline >= 0)) throw new UsageError(`--deadline: expected milliseconds, got "${values.deadline}"`);
      const file = resolvePath(positionals[0]!);
      let rt;
      try {
        rt = await start(await loadConfig(file), { baseDir: dirname(file) });
      } catch (err) {
        return reportConfigError('run', err, file);
      }
      const server = await serveControl(rt);
      const p = rt.plan;
      console.log(`gatio: running ${p.drivers.length} driver(s) in ${p.tpcs.length} TPC(s) (pid ${process.pid}; stats: gatio stats --pid ${process.pid}; socket ${socketPath(process.pid)})`);
      if (rt.taskNames.length) console.log(`gatio: tasks ${rt.taskNames.join(', ')}`);
      for (const port of rt.ports()) console.log(`gatio: serving ${port.key} on ${port.host} (${port.handler}; drivers ${port.drivers.map((id) => p.drivers[id]!.name).join(', ')})`);
      // Keep the process alive until a signal says otherwise.
      const keepAlive = setInterval(() => {}, 1 << 30);
      const signal = await new Promise<NodeJS.Signals>((r) => {
        process.once('SIGINT', r);
        process.once('SIGTERM', r);
      });
      console.log(`gatio: ${signal}: shutting down (deadline ${deadline} ms)`);
      const { aborted } = await rt.shutdown({ deadline });
      server.close();
      clearInterval(keepAlive);
      console.log(`gatio: stopped${aborted ? `; ${aborted} task(s) aborted at the deadline` : ''}`);
      return 0;
    }
    case 'stats': {
      const { values } = parseArgs({ args: rest, options: { pid: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
      let pid: number;
      if (values.pid !== undefined) pid = Number(values.pid);
      else {
        const pids = runningPids();
        if (pids.length === 0) throw new Error('no running gatio runtime found (start one with: gatio run CONFIG)');
        if (pids.length > 1) throw new UsageError(`several gatio runtimes are running (pids ${pids.join(', ')}): choose one with --pid`);
        pid = pids[0]!;
      }
      const s = await fetchStats(pid);
      console.log(values.json ? JSON.stringify(s, null, 2) : formatStats(s));
      return 0;
    }
    case 'doctor': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false } }, strict: true });
      const report = doctor();
      console.log(values.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
      return report.ok ? 0 : 1;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return cmd === undefined ? 1 : 0;
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    // Messages of the runtime's own errors already start with "gatio: ".
    const message = err.message.startsWith('gatio: ') ? err.message : `gatio: ${err.message}`;
    console.error(`${message}${usage ? `\n\n${USAGE}` : ''}`);
    process.exit(usage ? 2 : 1);
  },
);
