#include "addon.h"

namespace gatio {

void InitQueueHooks(Napi::Env env, Napi::Object exports) {}

}  // namespace gatio
