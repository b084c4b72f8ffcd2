// gatio's side of bench/net.mjs: one hybrid driver on CPU `cpu` serving the
// TCP echo on `port`; prints "ready PORT"; runs until SIGTERM.
//   node bench/net/gatio-echo.mjs PORT CPU
import { start } from 'gatio';

const [port, cpu] = process.argv.slice(2).map(Number);
const rt = await start({
  modules: [new URL('./handlers.mjs', import.meta.url).pathname],
  tpcs: [{ cores: [cpu], drivers: 'hybrid' }],
  arena: '64MiB',
  // GATIO_BENCH_SPIN: the driver's idle spin before it parks (default: the runtime's)
  ...(process.env.GATIO_BENCH_SPIN ? { runtime: { spinUs: Number(process.env.GATIO_BENCH_SPIN) } } : {}),
  // GATIO_BENCH_BUF: the provided buffers' size (the idle-connection RSS is measured with two)
  ports: [{ port, protocol: 'tcp', handler: 'bench-echo', host: '127.0.0.1', buffers: { count: 256, size: Number(process.env.GATIO_BENCH_BUF ?? 16384) } }],
});
console.log(`ready ${rt.ports()[0].port}`);
process.on('SIGTERM', () => rt.shutdown({ deadline: 1000 }).then(() => process.exit(0)));
setInterval(() => {}, 1 << 30);
