// TCP and UDP echo on one port number, on pinned drivers, until SIGTERM.
//
//   node examples/tcp-echo.mjs --port 9000 --cores 0-1 [--drivers hybrid|io+exec]
//
// hybrid (default): one hybrid driver per core of --cores; TCP is served by
// every driver but the last, UDP by the last (with one core, both by it).
// io+exec: the first core runs an io driver that owns both sockets, the
// other cores exec drivers that run the handlers (at least two cores).
import { parseArgs } from 'node:util';
import { start, parseList } from 'gatio';

const { values } = parseArgs({ options: { port: { type: 'string', default: '9000' }, cores: { type: 'string', default: '0' }, drivers: { type: 'string', default: 'hybrid' } } });
if (values.drivers !== 'hybrid' && values.drivers !== 'io+exec') {
  console.error(`tcp-echo: --drivers must be hybrid or io+exec, got ${values.drivers}`);
  process.exit(2);
}
const cores = parseList(values.cores);
const port = Number(values.port);
const io = values.drivers === 'io+exec';
if (io && cores.length < 2) {
  console.error('tcp-echo: --drivers io+exec needs two cores or more (an io driver and an exec driver)');
  process.exit(2);
}
const ids = cores.map((_, i) => i);
const tcpDrivers = io ? 'io' : ids.length > 1 ? ids.slice(0, -1) : ids;
const udpDrivers = io ? 'io' : ids.slice(-1);

const rt = await start({
  modules: [new URL('./net-handlers.mjs', import.meta.url).pathname],
  tpcs: [{ cores, drivers: io ? { io: 1, exec: cores.length - 1 } : 'hybrid' }],
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
