// Addon entry point: registers every concern's functions on one exports
// object. Also the shared helpers declared in addon.h.
#include "addon.h"

#include <cstdio>

namespace gatio {

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

Napi::Error CodedError(Napi::Env env, const std::string& message, const char* code) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

void ThrowErrno(Napi::Env env, const std::string& what, int err) {
  Napi::Error e = CodedError(env, what + ": " + std::strerror(err), ErrnoName(err));
  e.Set("errno", Napi::Number::New(env, err));
  throw e;
}

std::string Num(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

double WholeNumber(Napi::Value v, const char* fn, const char* name, double lo, double hi) {
  Napi::Env env = v.Env();
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(fn) + ": " + name + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!WholeIn(d, lo, hi)) {
    throw Napi::RangeError::New(env, std::string(fn) + ": " + name + " must be a whole number >= " + Num(lo) +
                                         (hi < kMaxSafeInteger ? " and <= " + Num(hi) : "") + ", got " +
                                         v.ToString().Utf8Value());
  }
  return d;
}

double WholeField(Napi::Object o, const char* fn, const char* key, double lo, double hi, double dflt) {
  Napi::Value v = o.Get(key);
  return v.IsUndefined() ? dflt : WholeNumber(v, fn, key, lo, hi);
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
  gatio::InitHttp(env, exports);
  return exports;
}

NODE_API_MODULE(gatio, InitAddon)
