#include "registry.h"

#include <vector>

namespace s4::binding {
namespace {

std::vector<ExportFn>& registered() {
  static std::vector<ExportFn> fns;
  return fns;
}

}  // namespace

Registrar::Registrar(ExportFn fn) { registered().push_back(fn); }

void registerAll(Napi::Env env, Napi::Object exports) {
  for (ExportFn fn : registered()) fn(env, exports);
}

}  // namespace s4::binding
