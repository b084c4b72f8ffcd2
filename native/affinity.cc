#include "addon.h"

namespace gatio {

void InitAffinity(Napi::Env env, Napi::Object exports) {}

}  // namespace gatio
