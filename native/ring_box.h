// A ring as the JS binding holds it: the Ring, its arena block and, once a
// port server listens on it, its NetEngine. Shared by ring.cc (create,
// turn, close) and net.cc (listen, peers, stats). Internal to the addon.
#pragma once
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "addon.h"
#include "net_engine.h"
#include "ring.h"

namespace gatio {

// The first 64 bytes of the ring's arena block; see RING_HEADER in ring.ts.
struct RingHeader {
  int32_t count;  // completions copied by the last turn
  int32_t more;   // bit 0: completions are still waiting: turn again without waiting; bit 1: commands were refused (ringRefused)
  double submitted, completed, enters, inFlight;
  int32_t mode;  // 0 none, 1 defer, 2 coop
  int32_t sqEntries, cqEntries, fd, ownerTid;
  int32_t state;  // 1 open, 0 closed
};
static_assert(sizeof(RingHeader) == 64, "ring header is 64 bytes");

struct Box {
  uint32_t id = 0;
  pid_t owner = 0;
  napi_env env = nullptr;
  Ring ring;
  HeldArena arena;               // keeps the arena mapped while the kernel may use it
  uint64_t block = 0;            // the ring's block in it: owned by the ring, freed by Destroy
  RingHeader* header = nullptr;  // these three point into the arena block
  RingCommand* cmds = nullptr;
  RingCompletion* cpls = nullptr;
  unsigned cmdCap = 0, cplCap = 0;
  std::vector<RingCommand> scratch;  // this turn's commands, copied once out of shared memory
  // Commands that failed the native checks: not submitted, the others are.
  // An op with a userData completes with -EINVAL (the next turn copies these
  // first), so its owner settles; why each was refused waits for ringRefused.
  std::vector<RingCompletion> refused;
  std::vector<std::string> refusedWhy;
  // Port servers (net.cc). The engine, its event block and every buffer
  // ring's block are the ring's from netAttach / netListen on: the kernel
  // and the engine write into them until the ring has drained, so Destroy
  // frees them after Close (or leaks them with the arena if it did not drain).
  std::unique_ptr<NetEngine> net;
  std::vector<uint64_t> netBlocks;
};

// The calling thread's ring named by info[0], or a clear JS error (closed,
// or another thread's).
Box* OwnRing(const Napi::CallbackInfo& info, const char* fn);

// Copies the ring's counters (in flight...) into its shared header.
void WriteStats(Box* b);

void InitNet(Napi::Env env, Napi::Object exports);  // net.cc

}  // namespace gatio
