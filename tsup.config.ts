import { defineConfig } from 'tsup';

// Two entry points: the library (ESM + CJS + .d.ts) and the CLI (ESM only).
export default defineConfig([
  {
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    shims: true,
    target: 'node20',
    platform: 'node',
    clean: true,
    sourcemap: true,
  },
  {
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    shims: true,
    target: 'node20',
    platform: 'node',
    sourcemap: true,
  },
]);
