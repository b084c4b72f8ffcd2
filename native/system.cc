#include "addon.h"

namespace gatio {

void InitSystem(Napi::Env env, Napi::Object exports) {}

}  // namespace gatio
