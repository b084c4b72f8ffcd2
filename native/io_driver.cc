#include "addon.h"

namespace gatio {

void InitIoDriver(Napi::Env env, Napi::Object exports) {}

}  // namespace gatio
