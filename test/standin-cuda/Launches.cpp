//===- Launches.cpp - The stand-in's launches and their log ---------------===//
//
// Each launch is checked against its kernel and the H200's limits (block
// and grid shape, the kernel's .maxntid/.reqntid, registers where ptxas
// counted them, static and dynamic shared memory, one argument per
// parameter, pointer arguments inside live allocations), then logged, or
// added to the graph its stream captures. Nothing runs. Tests read the log
// through the dgcStandIn* functions (StandInLog.h).
//
//===----------------------------------------------------------------------===//

#include "StandIn.h"

#include <cstdlib>
#include <cstring>

namespace dgc::standin {
namespace {

std::string dimsText(const unsigned d[3]) {
  return std::to_string(d[0]) + " x " + std::to_string(d[1]) + " x " +
         std::to_string(d[2]);
}

} // namespace

CUresult State::checkLaunch(const char *call, const Launch &l) {
  const Function &f = *l.function;
  const PtxEntry &e = *f.entry;
  std::string kernel = "kernel '" + e.name + "' (module #" +
                       std::to_string(f.module->id) + "): ";
  uint64_t threads = uint64_t(l.block[0]) * l.block[1] * l.block[2];
  for (int i = 0; i < 3; ++i)
    if (l.grid[i] == 0 || l.grid[i] > h200::kGridDim[i] || l.block[i] == 0 ||
        l.block[i] > h200::kBlockDim[i])
      return fail(kInvalidValue, call,
                  kernel + "grid " + dimsText(l.grid) + " or block " +
                      dimsText(l.block) + " is outside the GPU's limits");
  if (threads > h200::kThreadsPerBlock)
    return fail(kInvalidValue, call,
                kernel + "a block of " + dimsText(l.block) +
                    " threads is more than 1024");
  if (e.reqntid[0] &&
      (l.block[0] != e.reqntid[0] || l.block[1] != e.reqntid[1] ||
       l.block[2] != e.reqntid[2]))
    return fail(kInvalidValue, call,
                kernel + "its .reqntid is " + dimsText(e.reqntid.data()) +
                    ", the block " + dimsText(l.block));
  if (e.maxntid[0] &&
      threads > uint64_t(e.maxntid[0]) * e.maxntid[1] * e.maxntid[2])
    return fail(kLaunchOutOfResources, call,
                kernel + "a block of " + std::to_string(threads) +
                    " threads is more than its .maxntid " +
                    dimsText(e.maxntid.data()));
  if (auto r = f.module->registers.find(e.name);
      r != f.module->registers.end()) {
    // Registers are allocated per warp, 256 at a time.
    uint64_t perWarp = (uint64_t(r->second) * 32 + 255) / 256 * 256;
    uint64_t needed = perWarp * ((threads + 31) / 32);
    if (needed > h200::kRegistersPerBlock)
      return fail(kLaunchOutOfResources, call,
                  kernel + std::to_string(r->second) +
                      " registers a thread for " + std::to_string(threads) +
                      " threads is more than the 65536 of a block");
  }
  if (l.sharedBytes > f.maxDynamicShared)
    return fail(kInvalidValue, call,
                kernel + std::to_string(l.sharedBytes) +
                    " bytes of dynamic shared memory; at most " +
                    std::to_string(f.maxDynamicShared) +
                    (f.maxDynamicShared < h200::kSharedPerBlock
                         ? " (48 KB less its static shared memory, without "
                           "CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)"
                         : " (its MAX_DYNAMIC_SHARED_SIZE_BYTES)"));
  if (l.params.size() != e.params.size())
    return fail(kInvalidValue, call,
                kernel + "no argument for its " +
                    std::to_string(e.params.size()) + " parameters");
  // A pointer the kernel reads must be GPU memory; host memory faults
  // (0 and the end of an allocation are fine: nothing is read there).
  for (size_t i = 0; i < e.params.size(); ++i) {
    if (!e.params[i].pointer || l.params[i].size() != 8)
      continue;
    CUdeviceptr at;
    std::memcpy(&at, l.params[i].data(), 8);
    if (at && !findAllocation(at, 0))
      return fail(kIllegalAddress, call,
                  kernel + "parameter " + std::to_string(i) + " (" +
                      e.params[i].name + ") is " + hexText(at) +
                      ", in no live allocation of this device");
  }
  return kSuccess;
}

void State::record(const Launch &l) {
  launches.push_back(l);
  launches.back().params.clear(); // the log keeps what tests read
  replayedLaunches += l.replayed;
  if (!logFile)
    return;
  std::fprintf(logFile,
               "{\"kernel\": \"%s\", \"module\": %llu, \"grid\": [%u, %u, "
               "%u], \"block\": [%u, %u, %u], \"shared\": %u, \"static_shared\""
               ": %zu, \"replayed\": %s}\n",
               l.function->entry->name.c_str(),
               static_cast<unsigned long long>(l.function->module->id),
               l.grid[0], l.grid[1], l.grid[2], l.block[0], l.block[1],
               l.block[2], l.sharedBytes, l.function->entry->staticSharedBytes,
               l.replayed ? "true" : "false");
  std::fflush(logFile);
}

} // namespace dgc::standin

using namespace dgc::standin;

DGC_STANDIN_EXPORT CUresult cuLaunchKernel(
    CUfunction function, unsigned gridX, unsigned gridY, unsigned gridZ,
    unsigned blockX, unsigned blockY, unsigned blockZ, unsigned sharedBytes,
    CUstream stream, void **params, void **extra) {
  const char *call = "cuLaunchKernel";
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready(call, true))
    return r;
  CUresult error = kSuccess;
  Launch l;
  l.function = s.liveFunction(function, call, error);
  if (!l.function)
    return error;
  Stream *target = nullptr;
  if (stream) {
    auto it = s.streams.find(idOf(Kind::Stream, stream));
    if (it == s.streams.end())
      return s.fail(kInvalidHandle, call, "not a live stream");
    target = &it->second;
  }
  l.grid[0] = gridX, l.grid[1] = gridY, l.grid[2] = gridZ;
  l.block[0] = blockX, l.block[1] = blockY, l.block[2] = blockZ;
  l.sharedBytes = sharedBytes;
  if (params && extra)
    return s.fail(kInvalidValue, call, "both kernelParams and extra");
  if (extra)
    return s.fail(kInvalidValue, call, "the stand-in takes kernelParams only");
  const std::vector<PtxParam> &declared = l.function->entry->params;
  for (size_t i = 0; params && i < declared.size(); ++i) {
    if (!params[i])
      return s.fail(kInvalidValue, call,
                    "kernelParams[" + std::to_string(i) + "] is null");
    auto *bytes = static_cast<const unsigned char *>(params[i]);
    l.params.emplace_back(bytes, bytes + declared[i].bytes);
  }
  if (CUresult r = s.checkLaunch(call, l))
    return r;
  if (target && target->capturing) {
    s.graphs[target->graph].push_back(Node{l});
    ++s.capturedLaunches;
    return kSuccess;
  }
  s.record(l);
  return kSuccess;
}

// The log tests read. Strings stay valid until dgcStandInClearLog.

DGC_STANDIN_EXPORT size_t dgcStandInLaunchCount() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().launches.size();
}

DGC_STANDIN_EXPORT const char *dgcStandInLaunchKernel(size_t i) {
  std::lock_guard<std::mutex> lock(state().mutex);
  const auto &launches = state().launches;
  return i < launches.size() ? launches[i].function->entry->name.c_str()
                             : nullptr;
}

DGC_STANDIN_EXPORT const char *dgcStandInLaunchModulePtx(size_t i) {
  std::lock_guard<std::mutex> lock(state().mutex);
  const auto &launches = state().launches;
  return i < launches.size() ? launches[i].function->module->ptx->c_str()
                             : nullptr;
}

DGC_STANDIN_EXPORT int dgcStandInLaunchWasReplayed(size_t i) {
  std::lock_guard<std::mutex> lock(state().mutex);
  const auto &launches = state().launches;
  return i < launches.size() && launches[i].replayed;
}

DGC_STANDIN_EXPORT const char *dgcStandInLastLaunchKernel() {
  std::lock_guard<std::mutex> lock(state().mutex);
  const auto &launches = state().launches;
  return launches.empty() ? nullptr
                          : launches.back().function->entry->name.c_str();
}

DGC_STANDIN_EXPORT const char *dgcStandInLastLaunchModulePtx() {
  std::lock_guard<std::mutex> lock(state().mutex);
  const auto &launches = state().launches;
  return launches.empty() ? nullptr
                          : launches.back().function->module->ptx->c_str();
}

DGC_STANDIN_EXPORT size_t dgcStandInReplayedLaunchCount() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().replayedLaunches;
}

DGC_STANDIN_EXPORT size_t dgcStandInCapturedLaunchCount() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().capturedLaunches;
}

DGC_STANDIN_EXPORT size_t dgcStandInFailedCallCount() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().failedCalls;
}

DGC_STANDIN_EXPORT const char *dgcStandInLastFailure() {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.intern(s.lastFailure);
}

DGC_STANDIN_EXPORT void dgcStandInClearLog() {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.launches.clear();
  s.replayedLaunches = s.capturedLaunches = s.failedCalls = 0;
  s.lastFailure.clear();
  s.lastFailureCode = kSuccess;
}
