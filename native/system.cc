// Facts about the process and the libraries the addon links, for
// `gatio doctor`: the memlock limit, library versions, libnuma's verdict.
#include <hwloc.h>
#include <numa.h>
#include <sys/resource.h>

#include "addon.h"

namespace gatio {
namespace {

double Limit(rlim_t v) { return v == RLIM_INFINITY ? -1 : static_cast<double>(v); }

// { soft, hard } of RLIMIT_MEMLOCK in bytes; -1 means unlimited.
Napi::Value MemlockLimit(const Napi::CallbackInfo& info) {
  rlimit rl{};
  if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0) ThrowErrno(info.Env(), "memlockLimit: getrlimit(RLIMIT_MEMLOCK)", errno);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("soft", Limit(rl.rlim_cur));
  out.Set("hard", Limit(rl.rlim_max));
  return out;
}

// Versions the addon was compiled against (pkg-config, via binding.gyp) and
// the hwloc API version of the library actually loaded.
Napi::Value Versions(const Napi::CallbackInfo& info) {
  unsigned v = hwloc_get_api_version();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("liburing", GATIO_LIBURING_VERSION);
  out.Set("hwloc", GATIO_HWLOC_VERSION);
  out.Set("hwlocRuntime", std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff));
  out.Set("numa", GATIO_NUMA_VERSION);
  return out;
}

// libnuma's own test: -1 when the kernel has no NUMA syscalls (CONFIG_NUMA off
// or blocked), in which case no other libnuma call may be used.
Napi::Value NumaAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), numa_available() != -1);
}

}  // namespace

void InitSystem(Napi::Env env, Napi::Object exports) {
  exports.Set("memlockLimit", Napi::Function::New(env, MemlockLimit, "memlockLimit"));
  exports.Set("versions", Napi::Function::New(env, Versions, "versions"));
  exports.Set("numaAvailable", Napi::Function::New(env, NumaAvailable, "numaAvailable"));
}

}  // namespace gatio
