// Shared declarations for the gatio addon. Each concern lives in its own
// file and registers its functions through one Init* function below; the
// helpers after them are the argument checks and errors every file uses.
#pragma once
#include <napi.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace gatio {

void InitTopology(Napi::Env env, Napi::Object exports);  // topology.cc
void InitAffinity(Napi::Env env, Napi::Object exports);  // affinity.cc
void InitArena(Napi::Env env, Napi::Object exports);     // arena.cc
void InitUringProbe(Napi::Env env, Napi::Object exports);  // uring_probe.cc
void InitSystem(Napi::Env env, Napi::Object exports);    // system.cc
void InitWake(Napi::Env env, Napi::Object exports);      // wake.cc
void InitRing(Napi::Env env, Napi::Object exports);      // ring.cc
void InitQueueHooks(Napi::Env env, Napi::Object exports);  // queue_hooks.cc
void InitIoDriver(Napi::Env env, Napi::Object exports);  // io_driver.cc
void InitHttp(Napi::Env env, Napi::Object exports);      // http.cc

// ---- errors (addon.cc) ------------------------------------------------------

// "ENOENT" for ENOENT; "EUNKNOWN" for a number the C library cannot name.
const char* ErrnoName(int err);

// A JS Error with .code set (our GATIO_* codes, or an errno name).
Napi::Error CodedError(Napi::Env env, const std::string& message, const char* code);

// Throws a JS Error "<what>: <strerror(err)>" with .code = "E..." and .errno.
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& what, int err);

// ---- numbers from JS (addon.cc) -----------------------------------------------

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1: offsets, sizes and ids travel as JS numbers

// v printed with %.17g: exact for whole numbers below 2^53, and round-trips any double.
std::string Num(double v);

// v is a whole number in [lo, hi] (NaN and infinities are not).
inline bool WholeIn(double v, double lo, double hi) { return v >= lo && v <= hi && v == std::floor(v); }

// v as a whole number in [lo, hi]; otherwise throws a TypeError (not a
// number) or RangeError saying "<fn>: <name> must be ...". Pass info[i]
// for an argument (undefined when missing) or obj.Get(key) for a field.
double WholeNumber(Napi::Value v, const char* fn, const char* name, double lo, double hi);

// o[key] as WholeNumber, or dflt when it is undefined.
double WholeField(Napi::Object o, const char* fn, const char* key, double lo, double hi, double dflt);

// ---- arenas (arena.cc) --------------------------------------------------------

// A native user's reference to an arena: while `owner` lives,
// [base, base + bytes) stays mapped, even after arenaRelease and whatever
// JS does with its Arena handles. Copy or drop it on any thread. To keep
// the memory mapped for good (the kernel may still write there), leak one.
struct HeldArena {
  std::shared_ptr<void> owner;
  uint8_t* base = nullptr;
  uint64_t bytes = 0;
};

// The arena `id`; throws "<fn>: no arena with id <id> (...)" when there is
// no such arena (never created, or already released).
HeldArena ArenaHold(Napi::Env env, uint64_t id, const char* fn);

// The kernel may still write into this arena (an op that could not be
// drained): it stays mapped for good, and its release leaves the pages in
// place instead of returning them to the system.
void ArenaKeepForKernel(const HeldArena& arena);

// Frees the block at `offset` of a held arena (any thread: the allocator
// is thread-safe); false when no live block starts there. For native
// owners of a block the JS side allocated and handed over (a ring's block).
bool ArenaFreeBlock(const HeldArena& arena, uint64_t offset);

}  // namespace gatio
