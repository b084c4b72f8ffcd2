// The work every implementation runs: the same functions, so only the
// dispatch differs.

export function add(a, b) {
  return a + b;
}

// ~1 µs of CPU: a fixed loop calibrated once per thread at import.
let iterations = 100;
function spin(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x + i * 7) | 0;
  return x;
}
{
  const t0 = performance.now();
  spin(1e6);
  const perIter = (performance.now() - t0) / 1e6; // ms per iteration
  iterations = Math.max(1, Math.round(0.001 / perIter));
}
export function work1us(a) {
  return spin(iterations) + a;
}
