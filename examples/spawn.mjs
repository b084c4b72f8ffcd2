// Spawning tasks: the README's example. Run: node examples/spawn.mjs
import { start } from 'gatio';

const rt = await start({
  modules: [new URL('./tasks.mjs', import.meta.url).pathname],
  queues: { rpc: { latency: { maxDelayMs: 5 } }, batch: { shares: 1 } },
});

console.log(await rt.spawn('add', [1, 2])); // 3, computed on a pinned driver thread

const primes = rt.spawn('countPrimes', [200_000], { queue: 'batch' }); // a long task...
const echo = await rt.spawn('slowEcho', ['hi', 10], { queue: 'rpc' }); // ...does not delay the latency queue
console.log(echo, await primes);

const a = await rt.spawn('where', [], { key: 'user-42' }); // same key, same driver
const b = await rt.spawn('where', [], { key: 'user-42' });
console.log(a.id === b.id);

await rt.shutdown({ deadline: 1000 });
