// An HTTP/1.1 server on pinned drivers, until SIGTERM.
//
//   node examples/http-server.mjs --port 8080 --cores 0-1 [--drivers hybrid|io+exec]
//
//   GET /          200 hello
//   POST|PUT /echo 200 with the request body
//   GET /size/N    200 with N bytes
//   GET /slow/MS   200 done, after MS milliseconds
//   anything else  404
//
// hybrid (default): one hybrid driver per core, each accepting and serving.
// io+exec: the first core runs an io driver that owns the sockets, the other
// cores exec drivers that parse and run the handler (at least two cores).
import { parseArgs } from 'node:util';
import { start, parseList } from 'gatio';

const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' }, cores: { type: 'string', default: '0' }, drivers: { type: 'string', default: 'hybrid' } } });
if (values.drivers !== 'hybrid' && values.drivers !== 'io+exec') {
  console.error(`http-server: --drivers must be hybrid or io+exec, got ${values.drivers}`);
  process.exit(2);
}
const cores = parseList(values.cores);
const io = values.drivers === 'io+exec';
if (io && cores.length < 2) {
  console.error('http-server: --drivers io+exec needs two cores or more (an io driver and an exec driver)');
  process.exit(2);
}

const rt = await start({
  modules: [new URL('./http-handlers.mjs', import.meta.url).pathname],
  tpcs: [{ cores, drivers: io ? { io: 1, exec: cores.length - 1 } : 'hybrid' }],
  ports: [{ port: Number(values.port), protocol: 'http', handler: 'site', drivers: io ? 'io' : 'hybrid' }],
});
rt.on('error', (e) => console.error(`http-server: ${e.message}`));
for (const p of rt.ports()) console.log(`http on port ${p.port}: drivers ${p.drivers.map((id) => rt.plan.drivers[id].name).join(', ')}`);

process.once('SIGTERM', async () => {
  await rt.shutdown({ deadline: 5000 });
  console.log('shut down');
  process.exit(0);
});
setInterval(() => {}, 1 << 30); // a server: keep running until SIGTERM
