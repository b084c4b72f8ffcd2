import { defineConfig } from 'tsup';

// Entry points: the library (ESM + CJS + .d.ts), its internals for tests and
// benchmarks (sharing chunks with the library in the ESM build, so one
// module instance serves both), and the CLI (ESM only).
export default defineConfig([
  {
    entry: { index: 'src/index.ts', internals: 'src/internals.ts', worker: 'src/drivers/thread/worker-entry.ts' },
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
