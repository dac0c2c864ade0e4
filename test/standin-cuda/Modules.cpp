//===- Modules.cpp - The stand-in's modules and kernels -------------------===//
//
// Modules are read (Ptx.h), not compiled: text the JIT would reject fails
// to load with its code and a ptxas-like line in the caller's error log,
// and with DGC_STANDIN_PTXAS ptxas assembles it for the kernels'
// registers. Unloaded modules are kept, marked, so that their kernels are
// refused by name rather than mistaken for others.
//
//===----------------------------------------------------------------------===//

#include "StandIn.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace dgc::standin {
namespace {

/// Why `target` (sm_XY[a]) is not code for an sm_90 GPU; empty if it is.
std::string targetProblem(const std::string &target) {
  if (target.rfind("sm_", 0) != 0 && target.rfind("compute_", 0) != 0)
    return "unknown .target " + target;
  std::string number = target.substr(target.find('_') + 1);
  bool archOnly = !number.empty() && number.back() == 'a';
  if (archOnly)
    number.pop_back();
  int chip = std::atoi(number.c_str());
  if (chip == 0 || (archOnly ? chip != 90 : chip > 90))
    return "PTX .target " + target + " does not run on sm_90";
  return "";
}

/// Puts `log` into the caller's JIT error log buffer, if it gave one.
void writeLog(unsigned count, int *options, void **values,
              const std::string &log) {
  char *buffer = nullptr;
  size_t size = 0;
  int sizeAt = -1;
  for (unsigned i = 0; i < count; ++i) {
    if (options[i] == 5)
      buffer = static_cast<char *>(values[i]);
    if (options[i] == 6) {
      size = reinterpret_cast<uintptr_t>(values[i]);
      sizeAt = static_cast<int>(i);
    }
  }
  if (!buffer || size == 0)
    return;
  size_t n = std::min(size - 1, log.size());
  std::memcpy(buffer, log.data(), n);
  buffer[n] = '\0';
  // The size option comes back as the bytes written.
  values[sizeAt] = reinterpret_cast<void *>(uintptr_t(n));
}

} // namespace

std::shared_ptr<Function>
State::liveFunction(CUfunction handle, const char *call, CUresult &error) {
  auto it = functions.find(idOf(Kind::Function, handle));
  if (it == functions.end()) {
    error = fail(kInvalidHandle, call, "not a function handle");
    return nullptr;
  }
  if (!it->second->module->loaded) {
    error = fail(kInvalidHandle, call,
                 "kernel '" + it->second->entry->name + "' of module #" +
                     std::to_string(it->second->module->id) +
                     ", which was unloaded");
    return nullptr;
  }
  return it->second;
}

} // namespace dgc::standin

using namespace dgc::standin;

DGC_STANDIN_EXPORT CUresult cuModuleLoadDataEx(CUmodule *module,
                                               const void *image,
                                               unsigned count, int *options,
                                               void **values) {
  const char *call = "cuModuleLoadDataEx";
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready(call, true))
    return r;
  if (!module || !image || (count && (!options || !values)))
    return s.fail(kInvalidValue, call, "null arguments");
  for (unsigned i = 0; i < count; ++i) {
    // CUjit_option: up to CU_JIT_CACHE_MODE (14) are what drivers take.
    if (options[i] < 0 || options[i] > 14 ||
        (options[i] == 7 && reinterpret_cast<uintptr_t>(values[i]) > 4))
      return s.fail(kInvalidValue, call,
                    "JIT option " + std::to_string(options[i]) +
                        " or its value is out of range");
  }
  auto text = static_cast<const char *>(image);
  if (std::memcmp(text,
                  "\x7f"
                  "ELF",
                  4) == 0)
    return s.fail(kInvalidImage, call, "a cubin; the stand-in reads PTX only");
  auto m = std::make_shared<Module>();
  m->ptx = std::make_shared<const std::string>(text);
  PtxError error;
  CUresult code = kSuccess;
  if (!parsePtx(*m->ptx, m->parsed, error)) {
    code = kInvalidPtx;
  } else if (m->parsed.versionMajor * 10 + m->parsed.versionMinor >
             h200::kPtxMajor * 10 + h200::kPtxMinor) {
    code = kUnsupportedPtxVersion;
    error.message = "ptxas fatal   : Unsupported .version " +
                    std::to_string(m->parsed.versionMajor) + "." +
                    std::to_string(m->parsed.versionMinor) +
                    "; current version is '9.0'";
  } else if (std::string problem = targetProblem(m->parsed.target);
             !problem.empty()) {
    code = kInvalidPtx;
    error.message = "ptxas fatal   : " + problem;
  } else {
    for (const PtxEntry &e : m->parsed.entries)
      if (e.staticSharedBytes > h200::kSharedPerBlock) {
        code = kInvalidPtx;
        error.message = "ptxas error   : Entry function '" + e.name +
                        "' uses too much shared data (" +
                        hexText(e.staticSharedBytes) + " bytes, 0xc000 max)";
      }
  }
  if (code == kSuccess)
    if (const char *ptxas = std::getenv("DGC_STANDIN_PTXAS"); ptxas && *ptxas) {
      auto &cached = s.ptxasCache[*m->ptx];
      if (cached.first.empty() && cached.second.empty() &&
          !registersByPtxas(ptxas,
                            m->parsed.target.back() == 'a' ? "sm_90a" : "sm_90",
                            *m->ptx, cached.first, cached.second))
        cached.second = cached.second.empty() ? "ptxas failed" : cached.second;
      if (!cached.second.empty()) {
        code = kInvalidPtx;
        error.message = cached.second;
      }
      m->registers = cached.first;
    }
  if (code != kSuccess) {
    writeLog(count, options, values, error.message);
    return s.fail(code, call, error.message);
  }
  m->id = s.nextId++;
  s.modules[m->id] = m;
  ++s.modulesLoaded;
  *module = handleOf<CUmodule>(Kind::Module, m->id);
  writeLog(count, options, values, "");
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuModuleUnload(CUmodule module) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuModuleUnload", true))
    return r;
  auto it = s.modules.find(idOf(Kind::Module, module));
  if (it == s.modules.end() || !it->second->loaded)
    return s.fail(kInvalidHandle, "cuModuleUnload",
                  it == s.modules.end() ? "not a module handle"
                                        : "the module was unloaded before");
  it->second->loaded = false;
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuModuleGetFunction(CUfunction *function,
                                                CUmodule module,
                                                const char *name) {
  const char *call = "cuModuleGetFunction";
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready(call, true))
    return r;
  if (!function || !name)
    return s.fail(kInvalidValue, call, "null arguments");
  auto it = s.modules.find(idOf(Kind::Module, module));
  if (it == s.modules.end() || !it->second->loaded)
    return s.fail(kInvalidHandle, call,
                  it == s.modules.end() ? "not a module handle"
                                        : "the module was unloaded");
  auto key = std::make_pair(it->first, std::string(name));
  if (auto known = s.functionByName.find(key);
      known != s.functionByName.end()) {
    *function = handleOf<CUfunction>(Kind::Function, known->second);
    return kSuccess;
  }
  for (const PtxEntry &e : it->second->parsed.entries) {
    if (e.name != name)
      continue;
    auto f = std::make_shared<Function>();
    f->id = s.nextId++;
    f->module = it->second;
    f->entry = &e;
    f->maxDynamicShared = h200::kSharedPerBlock - e.staticSharedBytes;
    s.functions[f->id] = f;
    s.functionByName[key] = f->id;
    *function = handleOf<CUfunction>(Kind::Function, f->id);
    return kSuccess;
  }
  return s.fail(kNotFound, call,
                "module #" + std::to_string(it->first) + " has no kernel '" +
                    name + "'");
}

DGC_STANDIN_EXPORT CUresult cuFuncSetAttribute(CUfunction function,
                                               int attribute, int value) {
  const char *call = "cuFuncSetAttribute";
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready(call, false))
    return r;
  CUresult error = kSuccess;
  std::shared_ptr<Function> f = s.liveFunction(function, call, error);
  if (!f)
    return error;
  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, then
  // _PREFERRED_SHARED_MEMORY_CARVEOUT.
  if (attribute == 8) {
    int most = static_cast<int>(h200::kSharedPerBlockOptIn -
                                f->entry->staticSharedBytes);
    if (value < 0 || value > most)
      return s.fail(kInvalidValue, call,
                    "kernel '" + f->entry->name +
                        "': " + std::to_string(value) +
                        " bytes of dynamic shared memory; at most " +
                        std::to_string(most) + " (227 KB less its static)");
    f->maxDynamicShared = static_cast<unsigned>(value);
    return kSuccess;
  }
  if (attribute == 9 && value >= -1 && value <= 100)
    return kSuccess;
  return s.fail(kInvalidValue, call,
                "attribute " + std::to_string(attribute) +
                    " (or its value) is not one the stand-in takes");
}

DGC_STANDIN_EXPORT size_t dgcStandInLiveModules() {
  std::lock_guard<std::mutex> lock(state().mutex);
  size_t live = 0;
  for (const auto &[id, module] : state().modules)
    live += module->loaded;
  return live;
}

DGC_STANDIN_EXPORT size_t dgcStandInModulesLoaded() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().modulesLoaded;
}
