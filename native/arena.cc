#include "addon.h"

namespace gatio {

void InitArena(Napi::Env env, Napi::Object exports) {}

}  // namespace gatio
