// The demo's task module (every driver imports it): an HTTP handler, and a
// task it hands work to on another driver.
import { defineHttpHandler, defineTask, driverInfo, spawn } from 'gatio';

const me = () => driverInfo().name;

/** Counts the primes below n (the CPU work the HTTP handler hands off). */
export const primes = defineTask('demo-primes', (n) => {
  let count = 0;
  for (let i = 2; i < n; i++) {
    let p = true;
    for (let d = 2; d * d <= i; d++) if (i % d === 0) { p = false; break; }
    if (p) count++;
  }
  return { count, ranOn: me() };
});

defineHttpHandler('demo', {
  async request(req, res) {
    const path = req.path;
    if (path === '/') return res.end(JSON.stringify({ servedBy: me(), text: 'hello' }));
    if (path.startsWith('/primes/')) {
      // the answer comes from a task on another driver when there is one (driver: the next id)
      const { id } = driverInfo();
      const others = Number(req.header('x-drivers') ?? 1);
      const r = await spawn(primes, [Number(path.slice(8))], others > 1 ? { driver: (id + 1) % others } : {});
      return res.header('content-type', 'application/json').end(JSON.stringify({ servedBy: me(), primes: r.count, taskRanOn: r.ranOn }));
    }
    res.status(404).end('not found');
  },
});
