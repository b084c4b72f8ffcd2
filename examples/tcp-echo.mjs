// TCP and UDP echo on one port number, on pinned drivers, until SIGTERM.
//
//   node examples/tcp-echo.mjs --port 9000 --cores 0-1 [--drivers hybrid|io+exec]
//
// One hybrid driver per core of --cores; TCP is served by every driver but
// the last, UDP by the last (with one core, both by it).
import { parseArgs } from 'node:util';
import { start, parseList } from 'gatio';

const { values } = parseArgs({ options: { port: { type: 'string', default: '9000' }, cores: { type: 'string', default: '0' }, drivers: { type: 'string', default: 'hybrid' } } });
if (values.drivers !== 'hybrid') {
  console.error(`tcp-echo: --drivers ${values.drivers}: only hybrid drivers serve ports so far (io+exec is not built yet)`);
  process.exit(2);
}
const cores = parseList(values.cores);
const port = Number(values.port);
const ids = cores.map((_, i) => i);
const tcpDrivers = ids.length > 1 ? ids.slice(0, -1) : ids;
const udpDrivers = ids.slice(-1);

const rt = await start({
  modules: [new URL('./net-handlers.mjs', import.meta.url).pathname],
  tpcs: [{ cores, drivers: 'hybrid' }],
  ports: [
    { port, protocol: 'tcp', handler: 'echo', drivers: tcpDrivers },
    { port, protocol: 'udp', handler: 'udp-echo', drivers: udpDrivers },
  ],
});
for (const p of rt.ports()) console.log(`${p.protocol} echo on port ${p.port}: drivers ${p.drivers.map((id) => rt.plan.drivers[id].name).join(', ')}`);

process.once('SIGTERM', async () => {
  await rt.shutdown({ deadline: 2000 });
  console.log('shut down');
  process.exit(0);
});
setInterval(() => {}, 1 << 30); // a server: keep running until SIGTERM
