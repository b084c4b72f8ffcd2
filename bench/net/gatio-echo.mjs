// gatio's side of bench/net.mjs: the TCP echo on `port`; prints "ready PORT";
// runs until SIGTERM.
//   node bench/net/gatio-echo.mjs PORT CPU [hybrid|io+exec]
// hybrid: one hybrid driver on CPU. io+exec: an io driver on CPU (the
// sockets) and an exec driver on the other CPU (the handlers): on a
// machine without SMT siblings that is a second core, which the load
// generator then shares.
import { start } from 'gatio';

const [portArg, cpuArg, mode = 'hybrid'] = process.argv.slice(2);
const port = Number(portArg);
const cpu = Number(cpuArg);
const io = mode === 'io+exec';
const rt = await start({
  modules: [new URL('./handlers.mjs', import.meta.url).pathname],
  tpcs: [{ cores: io ? [cpu, cpu === 0 ? 1 : 0] : [cpu], drivers: io ? { io: 1, exec: 1 } : 'hybrid' }],
  arena: '64MiB',
  // GATIO_BENCH_SPIN: the driver's idle spin before it parks (default: the runtime's)
  ...(process.env.GATIO_BENCH_SPIN ? { runtime: { spinUs: Number(process.env.GATIO_BENCH_SPIN) } } : {}),
  // GATIO_BENCH_BUF: the provided buffers' size (the idle-connection RSS is measured with two)
  ports: [{ port, protocol: 'tcp', handler: 'bench-echo', host: '127.0.0.1', buffers: { count: 256, size: Number(process.env.GATIO_BENCH_BUF ?? 16384) }, ...(io ? { drivers: 'io' } : {}) }],
});
console.log(`ready ${rt.ports()[0].port}`);
process.on('SIGTERM', () => rt.shutdown({ deadline: 1000 }).then(() => process.exit(0)));
setInterval(() => {}, 1 << 30);
