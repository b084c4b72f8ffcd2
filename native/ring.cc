#include "addon.h"

namespace gatio {

void InitRing(Napi::Env env, Napi::Object exports) {}

}  // namespace gatio
