// The layering of src/ (docs/design.md, "Layout"), checked by `npm test`:
// no import cycle (type imports included), and dependencies pointing one way.
//   tpc/                the TPC model: imports nothing of drivers, net, cli
//   drivers/protocol/   the shared-memory protocol spoken with the C++: tpc only
//   drivers/shared/     what every JS thread has: protocol and tpc
//   net/                port servers (handlers, the reactor a driver runs, fingerprints): shared, protocol, tpc
//   drivers/thread/     a driver thread's loop: net, shared, protocol, tpc
//   drivers/main/       the main thread's runtime: net, shared, protocol, tpc (never a driver's loop)
//   cli/, index.ts      anything
module.exports = {
  forbidden: [
    { name: 'no-cycle', severity: 'error', from: {}, to: { circular: true } },
    { name: 'tpc-is-pure', severity: 'error', from: { path: '^src/tpc/' }, to: { path: '^src/(drivers|net|cli)/' } },
    { name: 'protocol-below-threads', severity: 'error', from: { path: '^src/drivers/protocol/' }, to: { path: '^src/(drivers/(shared|thread|main)|net|cli)/' } },
    { name: 'shared-below-roles', severity: 'error', from: { path: '^src/drivers/shared/' }, to: { path: '^src/(drivers/(thread|main)|net|cli)/' } },
    { name: 'thread-not-main', severity: 'error', from: { path: '^src/drivers/thread/' }, to: { path: '^src/(drivers/main|cli)/' } },
    { name: 'main-not-thread', severity: 'error', from: { path: '^src/drivers/main/' }, to: { path: '^src/(drivers/thread|cli)/' } },
    { name: 'net-below-roles', severity: 'error', from: { path: '^src/net/' }, to: { path: '^src/(drivers/(thread|main)|cli)/' } },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
  },
};
