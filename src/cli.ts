// The `gatio` command: topology, plan, doctor. Each subcommand prints a
// readable form by default and JSON with --json; bad input exits 1 with
// every problem listed.
import { parseArgs } from 'node:util';
import { topology, type TopologyOptions } from './tpc/topology.js';
import { formatTopology } from './tpc/format-topology.js';

const USAGE = `usage: gatio <command> [options]

commands:
  topology [--synthetic DESC | --xml FILE] [--restrict CPUS] [--json]
      the machine (or a described one) as hwloc sees it
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
