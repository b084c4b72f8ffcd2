import { defineConfig } from 'tsup';

// Entry points: the library (ESM + CJS + .d.ts), the library as task modules
// on driver threads see it (driver-api: no main-thread code), its internals for tests and
// benchmarks (sharing chunks with the library in the ESM build, so one
// module instance serves both), and the CLI (ESM only).
export default defineConfig([
  {
    entry: { index: 'src/index.ts', 'driver-api': 'src/driver-api.ts', internals: 'src/internals.ts', worker: 'src/drivers/thread/worker-entry.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    shims: true,
    target: 'node20',
    platform: 'node',
    clean: true,
    sourcemap: true,
  },
  {
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    shims: true,
    target: 'node20',
    platform: 'node',
    sourcemap: true,
  },
]);
