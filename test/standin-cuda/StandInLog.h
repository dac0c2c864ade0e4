//===- StandInLog.h - What a test reads from the stand-in driver -*- C++
//-*-===//
//
// The stand-in CUDA driver (libdgc-standin-cuda.so, chosen with
// DGC_LIBCUDA) runs no kernel but records every launch. A test that would
// check a kernel's results checks the record instead: which kernel ran,
// from which module's PTX, how often, and whether any driver call failed.
//
//   if (const StandInLog *log = StandInLog::find())
//     EXPECT_EQ(log->failedCallCount(), 0u) << log->lastFailure();
//
//===----------------------------------------------------------------------===//

#ifndef DGC_TEST_STANDINCUDA_STANDINLOG_H
#define DGC_TEST_STANDINCUDA_STANDINLOG_H

#include <dlfcn.h>

#include <cstddef>
#include <cstdlib>
#include <map>
#include <string>
#include <type_traits>

namespace dgc::standin {

struct StandInLog {
  /// Kernels run so far: launched, or replayed from a graph.
  size_t (*launchCount)();
  /// Launch i's kernel name and the PTX text of the module it came from.
  const char *(*launchKernel)(size_t i);
  const char *(*launchModulePtx)(size_t i);
  int (*launchWasReplayed)(size_t i);
  const char *(*lastLaunchKernel)();
  const char *(*lastLaunchModulePtx)();
  /// Launches recorded into graphs (not run), and replayed from them.
  size_t (*capturedLaunchCount)();
  size_t (*replayedLaunchCount)();
  /// Driver calls that failed a check, and why the last one did.
  size_t (*failedCallCount)();
  const char *(*lastFailure)();
  size_t (*liveModules)();
  size_t (*modulesLoaded)();
  size_t (*bytesAllocated)();
  size_t (*peakBytesAllocated)();
  /// The memory budget from now on (0: the default), for out-of-memory
  /// paths.
  void (*setMemoryLimit)(size_t bytes);
  /// Forgets the launches and failures so far (their strings too).
  void (*clearLog)();

  /// The stand-in that DGC_LIBCUDA names (the instance the runtime loads
  /// from that path); null when DGC_LIBCUDA is unset or another driver.
  static const StandInLog *find() {
    const char *path = std::getenv("DGC_LIBCUDA");
    return path && *path ? open(path) : nullptr;
  }

  /// The stand-in at `path`, loaded if it is not yet.
  static const StandInLog *open(const std::string &path) {
    static std::map<std::string, StandInLog> opened;
    if (auto it = opened.find(path); it != opened.end())
      return &it->second;
    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle)
      return nullptr;
    StandInLog log;
    bool all = true;
    auto get = [&](const char *name, auto &slot) {
      slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(
          dlsym(handle, name));
      all = all && slot;
    };
    get("dgcStandInLaunchCount", log.launchCount);
    get("dgcStandInLaunchKernel", log.launchKernel);
    get("dgcStandInLaunchModulePtx", log.launchModulePtx);
    get("dgcStandInLaunchWasReplayed", log.launchWasReplayed);
    get("dgcStandInLastLaunchKernel", log.lastLaunchKernel);
    get("dgcStandInLastLaunchModulePtx", log.lastLaunchModulePtx);
    get("dgcStandInCapturedLaunchCount", log.capturedLaunchCount);
    get("dgcStandInReplayedLaunchCount", log.replayedLaunchCount);
    get("dgcStandInFailedCallCount", log.failedCallCount);
    get("dgcStandInLastFailure", log.lastFailure);
    get("dgcStandInLiveModules", log.liveModules);
    get("dgcStandInModulesLoaded", log.modulesLoaded);
    get("dgcStandInBytesAllocated", log.bytesAllocated);
    get("dgcStandInPeakBytesAllocated", log.peakBytesAllocated);
    get("dgcStandInSetMemoryLimit", log.setMemoryLimit);
    get("dgcStandInClearLog", log.clearLog);
    if (!all) {
      dlclose(handle);
      return nullptr;
    }
    return &opened.emplace(path, log).first->second;
  }
};

} // namespace dgc::standin

#endif // DGC_TEST_STANDINCUDA_STANDINLOG_H
