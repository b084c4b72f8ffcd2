#include "addon.h"

namespace gatio {

void InitUringProbe(Napi::Env env, Napi::Object exports) {}

}  // namespace gatio
