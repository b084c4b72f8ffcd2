// The `gatio` command: topology, plan, doctor. Each subcommand prints a
// readable form by default and JSON with --json; bad input exits 1 with
// every problem listed.
import { parseArgs } from 'node:util';
import { topology, type TopologyOptions } from './tpc/topology.js';
import { formatTopology } from './tpc/format-topology.js';
import { plan, formatPlan } from './tpc/plan.js';
import { loadConfig } from './tpc/load-config.js';
import { ConfigError, formatIssues, type GatioConfig } from './tpc/config.js';
import { doctor, formatDoctor } from './doctor.js';

const USAGE = `usage: gatio <command> [options]

commands:
  topology [--synthetic DESC | --xml FILE] [--restrict CPUS] [--json]
      the machine (or a described one) as hwloc sees it
  plan [CONFIG] [--synthetic DESC | --xml FILE] [--restrict CPUS] [--json]
      validate CONFIG (.json/.js/.mjs; default { tpcs: 'auto' }) and print the
      plan: TPCs, arenas, and one driver per PU; exit 1 listing every error
  doctor [--json]
      what this machine offers the runtime, what is missing, and the fixes
  help
      this text`;

class UsageError extends Error {}

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
        if (!(err instanceof ConfigError)) throw err;
        console.error(`gatio plan: ${err.errors.length} error(s) in ${err.file ?? file ?? 'the default config'}:`);
        console.error(formatIssues(err.errors, err.file ?? file));
        if (err.warnings.length) console.error(formatIssues(err.warnings, err.file ?? file).replace(/^/gm, 'warning: '));
        return 1;
      }
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
    console.error(`gatio: ${err.message}${usage ? `\n\n${USAGE}` : ''}`);
    process.exit(usage ? 2 : 1);
  },
);
