// Addon entry point: registers every concern's functions on one exports object.
#include "addon.h"

namespace gatio {

static const char* ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case EFAULT: return "EFAULT";
    case ENOSYS: return "ENOSYS";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EAGAIN: return "EAGAIN";
    case ENODEV: return "ENODEV";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EXDEV: return "EXDEV";
    default: return "EUNKNOWN";
  }
}

void ThrowErrno(Napi::Env env, const std::string& what, int err) {
  Napi::Error e = Napi::Error::New(env, what + ": " + std::strerror(err));
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, err));
  throw e;
}

}  // namespace gatio

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  gatio::InitTopology(env, exports);
  gatio::InitAffinity(env, exports);
  gatio::InitArena(env, exports);
  gatio::InitUringProbe(env, exports);
  gatio::InitSystem(env, exports);
  gatio::InitWake(env, exports);
  gatio::InitRing(env, exports);
  gatio::InitQueueHooks(env, exports);
  gatio::InitIoDriver(env, exports);
  return exports;
}

NODE_API_MODULE(gatio, InitAddon)
