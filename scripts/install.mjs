#!/usr/bin/env node
// npm "install" hook: checks that the system libraries the addon links against
// are present (through pkg-config, as binding.gyp finds them), then builds the
// addon with node-gyp. A missing library fails here with the command that
// fixes it, instead of deep inside a compiler error.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const SYSTEM_PACKAGES = [
  { pc: 'liburing', deb: 'liburing-dev', min: '2.3' },
  { pc: 'hwloc', deb: 'libhwloc-dev', min: '2.0' },
  { pc: 'numa', deb: 'libnuma-dev', min: '2.0' },
];

function have(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
}

/** llhttp's C sources, built into the addon (the HTTP parser): Debian's node-llhttp ships them (no pkg-config file). */
export const LLHTTP = { deb: 'node-llhttp', files: ['/usr/share/llhttp/llhttp.c', '/usr/share/llhttp/api.c', '/usr/share/llhttp/http.c', '/usr/share/include/llhttp/llhttp.h'] };

export function missingPackages() {
  const llhttp = LLHTTP.files.every((f) => existsSync(f)) ? [] : [LLHTTP.deb];
  if (!have('pkg-config', ['--version'])) {
    return ['pkg-config', ...SYSTEM_PACKAGES.map((p) => p.deb), ...llhttp];
  }
  return [...SYSTEM_PACKAGES.filter((p) => !have('pkg-config', [`--atleast-version=${p.min}`, p.pc])).map((p) => p.deb), ...llhttp];
}

if (process.platform !== 'linux') {
  console.error(`gatio: Linux only (this is ${process.platform}); io_uring, hwloc and libnuma are Linux interfaces.`);
  process.exit(1);
}

const missing = missingPackages();
if (missing.length > 0) {
  console.error(
    `gatio: cannot build the native addon: missing system packages: ${missing.join(', ')}\n` +
      `  fix (Debian/Ubuntu, as root): apt-get update && apt-get install -y ${missing.join(' ')} g++ make python3\n` +
      `  or run: bash scripts/setup.sh`,
  );
  process.exit(1);
}

// npm puts its bundled node-gyp on PATH for lifecycle scripts and also names it
// in npm_config_node_gyp; prefer the explicit path when there is one.
const gyp = process.env.npm_config_node_gyp;
const r = gyp
  ? spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, stdio: 'inherit' })
  : spawnSync('node-gyp', ['rebuild'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('gatio: node-gyp rebuild failed (see above). Needs g++, make and python3: apt-get install -y g++ make python3');
  process.exit(r.status ?? 1);
}
