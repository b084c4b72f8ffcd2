// gatio serving GET / -> "hello" on one hybrid driver pinned to CPU argv[3]
// (or io+exec: the io driver there, its exec driver on argv[5]).
//   node bench/http/gatio.mjs PORT CPU fast|fetch|hono [hybrid|io+exec EXEC_CPU]
import { start } from 'gatio';

const [port, cpu, handler = 'fast', mode = 'hybrid', execCpu = '1'] = process.argv.slice(2);
const io = mode === 'io+exec';
const rt = await start({
  modules: [new URL('./gatio-handlers.mjs', import.meta.url).pathname],
  tpcs: [{ cores: io ? [Number(cpu), Number(execCpu)] : [Number(cpu)], drivers: io ? { io: 1, exec: 1 } : 'hybrid' }],
  ports: [{ port: Number(port), protocol: 'http', handler, host: '127.0.0.1', drivers: io ? 'io' : 'hybrid' }],
});
console.log('ready');
process.once('SIGTERM', async () => {
  await rt.shutdown({ deadline: 1000 });
  process.exit(0);
});
setInterval(() => {}, 1 << 30);
