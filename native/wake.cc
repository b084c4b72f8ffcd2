#include "addon.h"

namespace gatio {

void InitWake(Napi::Env env, Napi::Object exports) {}

}  // namespace gatio
