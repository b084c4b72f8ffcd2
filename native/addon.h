// Shared declarations for the gatio addon. Each concern lives in its own
// file and registers its functions through one Init* function below.
#pragma once
#include <napi.h>

#include <cerrno>
#include <cstring>
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

// Throws a JS Error "<what>: <strerror(err)>" with .code = "E..." and .errno.
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& what, int err);

}  // namespace gatio
