// TPC arenas: one anonymous mapping bound to a NUMA node, shared by every
// thread of the process, carved up by a buddy allocator (buddy.h) that any
// thread may call.
//
// Ownership and lifetime (the one rule: memory is unmapped exactly once,
// after the last user is gone):
// - An Arena (mapping + allocator) is held by std::shared_ptr only.
// - The registry (id -> shared_ptr) holds the owner's reference from
//   arenaCreate until arenaRelease. Every other call looks the id up under
//   the registry mutex and keeps its own shared_ptr copy for the call, so a
//   concurrent arenaRelease cannot free memory under it.
// - arenaBuffer hands each thread a SharedArrayBuffer (a real one, so that
//   Atomics and the JIT treat the memory as shared between threads). All of
//   them share one v8::BackingStore per arena, which holds a heap-allocated
//   shared_ptr to the Arena as its deleter data; V8 runs the deleter when
//   the last SharedArrayBuffer over it, in any isolate, is gone. The Arena
//   keeps only a weak_ptr to the store (a strong one would be a cycle).
// - Native users (rings, io drivers, queue hooks) hold the Arena itself:
//   ArenaHold (addon.h) hands out a copy of the shared_ptr.
// - ~Arena munmaps. So the memory goes away only when the owner released it
//   AND no SharedArrayBuffer or native holder still points at it, in
//   whatever order threads exit. After arenaRelease the id is unknown to
//   every function here, while existing buffers and holds stay valid.
#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <v8.h>

#include "addon.h"
#include "buddy.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older kernels answer EINVAL and we touch pages instead
#endif

namespace gatio {
namespace {

constexpr uint64_t kHuge = 2ull << 20;  // 2 MiB: THP size on x86-64/arm64 with 4K pages; also the base alignment
constexpr uint64_t kDefaultMinBlock = 256;

struct Arena {
  void* base = nullptr;
  uint64_t bytes = 0;
  int node = 0;
  std::unique_ptr<BuddyAllocator> buddy;
  std::mutex storeMu;
  std::weak_ptr<v8::BackingStore> store;  // see the top of this file
  // Set when an op that could not be drained may still make the kernel
  // write here (ArenaKeepForKernel): release then leaves the pages alone.
  std::atomic<bool> kernelMayWrite{false};

  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() {
    if (base) munmap(base, bytes);
  }
};

using ArenaRef = std::shared_ptr<Arena>;

struct Registry {
  std::mutex mu;
  std::unordered_map<uint32_t, ArenaRef> arenas;
  uint32_t next = 1;
};

// Deliberately leaked: at process exit, static destructors would munmap
// arenas while a worker thread may still be running on them.
Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

uint64_t PageSize() { return static_cast<uint64_t>(sysconf(_SC_PAGESIZE)); }
bool IsPow2(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }
uint64_t RoundUp(uint64_t x, uint64_t unit) { return (x + unit - 1) / unit * unit; }

// info[i] as a whole number in [0, 2^53).
uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  return static_cast<uint64_t>(WholeNumber(info[i], fn, name, 0, kMaxSafeInteger));
}

ArenaRef Lookup(Napi::Env env, uint64_t id, const char* fn) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = id > UINT32_MAX ? r.arenas.end() : r.arenas.find(static_cast<uint32_t>(id));
  if (it == r.arenas.end()) {
    throw Napi::Error::New(env, std::string(fn) + ": no arena with id " + std::to_string(id) +
                                    " (never created, or already released)");
  }
  return it->second;
}

// The arena named by info[0].
ArenaRef Find(const Napi::CallbackInfo& info, const char* fn) { return Lookup(info.Env(), ArgU64(info, 0, fn, "arena id"), fn); }

std::string ListBits(const struct bitmask* b) {
  std::string out;
  for (unsigned i = 0; i < b->size; i++) {
    if (!numa_bitmask_isbitset(b, i)) continue;
    if (!out.empty()) out += ",";
    out += std::to_string(i);
  }
  return out.empty() ? "none" : out;
}

// Throws unless `node` exists and this process may allocate on it.
// Returns false when the kernel has no NUMA support (then only node 0
// exists and there is nothing to bind).
bool CheckNode(Napi::Env env, int node) {
  if (numa_available() < 0) {
    if (node != 0) {
      throw Napi::Error::New(env, "arena: NUMA node " + std::to_string(node) +
                                      " does not exist (NUMA is not available here; the only node is 0)");
    }
    return false;
  }
  if (node > numa_max_node() || !numa_bitmask_isbitset(numa_nodes_ptr, static_cast<unsigned>(node))) {
    throw Napi::Error::New(env, "arena: NUMA node " + std::to_string(node) + " does not exist (nodes: " +
                                    ListBits(numa_nodes_ptr) + ")");
  }
  struct bitmask* allowed = numa_get_mems_allowed();
  bool ok = allowed && numa_bitmask_isbitset(allowed, static_cast<unsigned>(node));
  std::string list = allowed ? ListBits(allowed) : "unknown";
  if (allowed) numa_free_nodemask(allowed);
  if (!ok) {
    throw Napi::Error::New(env, "arena: NUMA node " + std::to_string(node) +
                                    " is not allowed for this process (cpuset mems: " + list + ")");
  }
  return true;
}

// Maps `bytes` (a multiple of the page size) at a 2 MiB-aligned address:
// over-map by 2 MiB and trim both ends, so the block alignment the buddy
// allocator promises (up to 2 MiB) holds for absolute addresses too.
void* MapAligned(uint64_t bytes) {
  uint64_t len = bytes + kHuge;
  void* raw = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = RoundUp(start, kHuge);
  if (aligned > start) munmap(raw, aligned - start);
  uintptr_t end = start + len;
  if (end > aligned + bytes) munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
  return reinterpret_cast<void*>(aligned);
}

// Faults every page in, after mbind, so each lands on the bound node.
void Prefault(Napi::Env env, Arena& a) {
  if (madvise(a.base, a.bytes, MADV_POPULATE_WRITE) == 0) return;
  int err = errno;
  if (err != EINVAL) {
    ThrowErrno(env, "arena: prefaulting " + std::to_string(a.bytes) + " bytes on NUMA node " + std::to_string(a.node), err);
  }
  // Kernel older than 5.14: write one byte per page.
  volatile char* p = static_cast<volatile char*>(a.base);
  uint64_t page = PageSize();
  for (uint64_t off = 0; off < a.bytes; off += page) p[off] = 0;
}

// arenaCreate(bytes, node, prefault, minBlock) -> id
Napi::Value ArenaCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t asked = ArgU64(info, 0, "arenaCreate", "bytes");
  int node = static_cast<int>(WholeNumber(info[1], "arenaCreate", "node", 0, INT32_MAX));
  bool prefault = info.Length() > 2 && info[2].ToBoolean().Value();
  uint64_t minBlock = info.Length() > 3 ? ArgU64(info, 3, "arenaCreate", "minBlock") : 0;
  if (minBlock == 0) minBlock = kDefaultMinBlock;
  if (asked == 0) throw Napi::RangeError::New(env, "arenaCreate: bytes must be > 0");
  if (!IsPow2(minBlock) || minBlock > (1ull << 40)) {
    throw Napi::RangeError::New(env, "arenaCreate: minBlock must be a power of two (e.g. 256), got " +
                                         std::to_string(minBlock));
  }
  bool bind = CheckNode(env, node);

  // Page granularity, or 2 MiB granularity from 2 MiB up so whole huge
  // pages back the arena; also a multiple of minBlock, so that every byte
  // belongs to some buddy block (bytes == inUse + free).
  uint64_t unit = std::max(asked >= kHuge ? kHuge : PageSize(), minBlock);
  uint64_t bytes = RoundUp(asked, unit);

  auto arena = std::make_shared<Arena>();
  arena->node = node;
  arena->base = MapAligned(bytes);
  if (!arena->base) ThrowErrno(env, "arena: mmap of " + std::to_string(bytes) + " bytes", errno);
  arena->bytes = bytes;  // from here ~Arena unmaps on any error below
  // Best effort: with THP in "madvise" mode this is what lets huge pages back the arena.
  if (bytes >= kHuge) madvise(arena->base, bytes, MADV_HUGEPAGE);

  if (bind) {
    struct bitmask* mask = numa_bitmask_alloc(numa_max_possible_node() + 1);
    numa_bitmask_setbit(mask, static_cast<unsigned>(node));
    // The kernel reads maxnode - 1 bits, hence size + 1 (as libnuma does).
    long rc = mbind(arena->base, bytes, MPOL_BIND, mask->maskp, mask->size + 1, MPOL_MF_STRICT | MPOL_MF_MOVE);
    int err = errno;
    numa_bitmask_free(mask);
    if (rc != 0) ThrowErrno(env, "arena: mbind of " + std::to_string(bytes) + " bytes to NUMA node " + std::to_string(node), err);
  }
  if (prefault) Prefault(env, *arena);
  arena->buddy = std::make_unique<BuddyAllocator>(bytes, minBlock);

  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  uint32_t id = r.next++;
  r.arenas.emplace(id, std::move(arena));
  return Napi::Number::New(env, id);
}

// The V8 backing store over the whole arena, shared by every isolate.
std::shared_ptr<v8::BackingStore> StoreOf(const ArenaRef& arena) {
  std::lock_guard<std::mutex> lock(arena->storeMu);
  std::shared_ptr<v8::BackingStore> store = arena->store.lock();
  if (store) return store;
  auto* hold = new ArenaRef(arena);  // deleted by the store's deleter
  store = v8::SharedArrayBuffer::NewBackingStore(
      arena->base, arena->bytes, [](void*, size_t, void* data) { delete static_cast<ArenaRef*>(data); }, hold);
  arena->store = store;
  return store;
}

// arenaBuffer(id) -> a SharedArrayBuffer over the whole arena, in the
// calling thread's isolate. It holds a reference (see the top of this file).
// N-API cannot make a SharedArrayBuffer over external memory, so this one
// function uses V8 directly; napi_value is a v8::Local<v8::Value> underneath.
Napi::Value ArenaBuffer(const Napi::CallbackInfo& info) {
  ArenaRef arena = Find(info, "arenaBuffer");
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  v8::EscapableHandleScope scope(isolate);
  v8::Local<v8::SharedArrayBuffer> sab = v8::SharedArrayBuffer::New(isolate, StoreOf(arena));
  v8::Local<v8::Value> value = scope.Escape(sab);
  return Napi::Value(info.Env(), reinterpret_cast<napi_value>(*value));
}

// arenaAlloc(id, size, align) -> offset, or -1 when no block fits
Napi::Value ArenaAlloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ArenaRef arena = Find(info, "arenaAlloc");
  uint64_t size = ArgU64(info, 1, "arenaAlloc", "size");
  uint64_t align = info.Length() > 2 ? ArgU64(info, 2, "arenaAlloc", "align") : 0;
  if (size == 0) throw Napi::RangeError::New(env, "arenaAlloc: size must be > 0");
  if (align != 0 && (!IsPow2(align) || align > kHuge)) {
    throw Napi::RangeError::New(env, "arenaAlloc: align must be a power of two up to 2 MiB (2097152), got " +
                                         std::to_string(align));
  }
  return Napi::Number::New(env, static_cast<double>(arena->buddy->Allocate(size, align)));
}

// arenaSerial(id, offset) -> the live block's allocation serial, or 0.
Napi::Value ArenaSerial(const Napi::CallbackInfo& info) {
  ArenaRef arena = Find(info, "arenaSerial");
  return Napi::Number::New(info.Env(), static_cast<double>(arena->buddy->SerialOf(ArgU64(info, 1, "arenaSerial", "offset"))));
}

// arenaFreeIf(id, offset, serial) -> whether it freed: only the allocation `serial` (a stale handle frees nothing).
Napi::Value ArenaFreeIf(const Napi::CallbackInfo& info) {
  ArenaRef arena = Find(info, "arenaFreeIf");
  uint64_t offset = ArgU64(info, 1, "arenaFreeIf", "offset");
  uint64_t serial = ArgU64(info, 2, "arenaFreeIf", "serial");
  return Napi::Boolean::New(info.Env(), arena->buddy->FreeIf(offset, serial) != 0);
}

// arenaFree(id, offset): offset must be the start of a live block.
Napi::Value ArenaFree(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ArenaRef arena = Find(info, "arenaFree");
  uint64_t offset = ArgU64(info, 1, "arenaFree", "offset");
  if (arena->buddy->Free(offset) == 0) {
    throw CodedError(env, "arenaFree: offset " + std::to_string(offset) + " is not the start of a live block of arena " +
                              info[0].ToString().Utf8Value() + " (already freed, inside a block, or never allocated)",
                     "GATIO_ARENA_BAD_FREE");
  }
  return env.Undefined();
}

Napi::Value ArenaStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ArenaRef arena = Find(info, "arenaStats");
  BuddyStats s = arena->buddy->Stats();
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  num("bytes", arena->bytes);
  num("inUse", s.inUse);
  num("free", s.free);
  num("highWater", s.highWater);
  num("allocations", s.allocations);
  num("liveBlocks", s.liveBlocks);
  num("failed", s.failed);
  num("largestFree", s.largestFree);
  num("minBlock", s.minBlock);
  o.Set("node", Napi::Number::New(env, arena->node));
  return o;
}

// arenaPlacement(id): where each page lives, by move_pages with no target
// nodes (query only). Done in chunks to bound the temporary arrays.
Napi::Value ArenaPlacement(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ArenaRef arena = Find(info, "arenaPlacement");
  const uint64_t page = PageSize();
  const uint64_t pages = arena->bytes / page;
  constexpr uint64_t kChunk = 4096;
  std::vector<void*> addrs(std::min(pages, kChunk));
  std::vector<int> status(addrs.size());
  std::map<int, uint64_t> perNode;
  uint64_t notPresent = 0, errors = 0;
  char* base = static_cast<char*>(arena->base);
  for (uint64_t first = 0; first < pages; first += kChunk) {
    uint64_t n = std::min(kChunk, pages - first);
    for (uint64_t i = 0; i < n; i++) addrs[i] = base + (first + i) * page;
    if (move_pages(0, n, addrs.data(), nullptr, status.data(), 0) < 0) {
      ThrowErrno(env, "arenaPlacement: move_pages", errno);
    }
    for (uint64_t i = 0; i < n; i++) {
      if (status[i] >= 0) perNode[status[i]]++;
      else if (status[i] == -ENOENT) notPresent++;
      else errors++;
    }
  }
  Napi::Object nodes = Napi::Object::New(env);
  for (auto& [node, count] : perNode) nodes.Set(std::to_string(node), Napi::Number::New(env, static_cast<double>(count)));
  Napi::Object o = Napi::Object::New(env);
  o.Set("pageSize", Napi::Number::New(env, static_cast<double>(page)));
  o.Set("pages", Napi::Number::New(env, static_cast<double>(pages)));
  o.Set("perNode", nodes);
  o.Set("notPresent", Napi::Number::New(env, static_cast<double>(notPresent)));
  o.Set("errors", Napi::Number::New(env, static_cast<double>(errors)));
  return o;
}

// arenaRelease(id): drops the owner's reference; see the top of this file.
Napi::Value ArenaRelease(const Napi::CallbackInfo& info) {
  uint64_t id = ArgU64(info, 0, "arenaRelease", "arena id");
  ArenaRef arena = Lookup(info.Env(), id, "arenaRelease");
  Registry& r = registry();
  {
    std::lock_guard<std::mutex> lock(r.mu);
    r.arenas.erase(static_cast<uint32_t>(id));
  }
  // Buffers over it may still be alive in some thread (a SharedArrayBuffer
  // goes when its thread's GC collects it, which can take long: 50
  // start/shutdown cycles kept 308 MiB of dead arenas resident). Give the
  // pages back now; the mapping stays for those stray views, reading zeros.
  // Not while the kernel may still write into it (an op that never drained).
  if (arena.use_count() > 1 && !arena->kernelMayWrite.load(std::memory_order_acquire)) madvise(arena->base, arena->bytes, MADV_DONTNEED);
  // `arena` (the last reference, if no buffer is alive) unmaps here, outside the lock.
  return info.Env().Undefined();
}

}  // namespace

HeldArena ArenaHold(Napi::Env env, uint64_t id, const char* fn) {
  ArenaRef arena = Lookup(env, id, fn);
  uint8_t* base = static_cast<uint8_t*>(arena->base);
  uint64_t bytes = arena->bytes;
  return {std::move(arena), base, bytes};
}

void ArenaKeepForKernel(const HeldArena& held) {
  static_cast<Arena*>(held.owner.get())->kernelMayWrite.store(true, std::memory_order_release);
  new HeldArena(held);  // leaked on purpose: mapped for good
}

bool ArenaFreeBlock(const HeldArena& held, uint64_t offset) {
  return static_cast<Arena*>(held.owner.get())->buddy->Free(offset) != 0;
}

void InitArena(Napi::Env env, Napi::Object exports) {
  exports.Set("arenaCreate", Napi::Function::New(env, ArenaCreate, "arenaCreate"));
  exports.Set("arenaBuffer", Napi::Function::New(env, ArenaBuffer, "arenaBuffer"));
  exports.Set("arenaAlloc", Napi::Function::New(env, ArenaAlloc, "arenaAlloc"));
  exports.Set("arenaFree", Napi::Function::New(env, ArenaFree, "arenaFree"));
  exports.Set("arenaSerial", Napi::Function::New(env, ArenaSerial, "arenaSerial"));
  exports.Set("arenaFreeIf", Napi::Function::New(env, ArenaFreeIf, "arenaFreeIf"));
  exports.Set("arenaStats", Napi::Function::New(env, ArenaStats, "arenaStats"));
  exports.Set("arenaPlacement", Napi::Function::New(env, ArenaPlacement, "arenaPlacement"));
  exports.Set("arenaRelease", Napi::Function::New(env, ArenaRelease, "arenaRelease"));
}

}  // namespace gatio
