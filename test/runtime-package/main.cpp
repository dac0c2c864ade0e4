// Compiles against the installed headers and calls into the installed
// library: enough to show that the package's include path and link work.
#include "dgc/runtime/CompiledModule.h"

int main() {
  auto device = dgc::runtime::parseDevice("host");
  return device && *device == dgc::runtime::Device::Host ? 0 : 1;
}
