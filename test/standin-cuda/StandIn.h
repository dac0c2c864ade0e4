//===- StandIn.h - The stand-in CUDA driver's state -------------*- C++ -*-===//
//
// A libcuda for machines without a GPU: the driver functions the runtime
// resolves, on one simulated device with the H200's limits. Memory is host
// memory (Memory.cpp); modules are read, not compiled (Modules.cpp, Ptx.h);
// launches are checked and recorded, never run (Launches.cpp), or captured
// into graphs and replayed (Graphs.cpp). Types and codes are cuda.h's, declared
// here as runtime/CudaDriver.h declares them.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_TEST_STANDINCUDA_STANDIN_H
#define DGC_TEST_STANDINCUDA_STANDIN_H

#include "Ptx.h"

#include "CudaTypes.h"

#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#define DGC_STANDIN_EXPORT extern "C" __attribute__((visibility("default")))

namespace dgc::standin {

using namespace runtime::cuda; // the driver's C types

// CUresult values (cuda.h).
constexpr CUresult kSuccess = 0;
constexpr CUresult kInvalidValue = 1;
constexpr CUresult kOutOfMemory = 2;
constexpr CUresult kNotInitialized = 3;
constexpr CUresult kInvalidDevice = 101;
constexpr CUresult kInvalidImage = 200;
constexpr CUresult kInvalidContext = 201;
constexpr CUresult kInvalidPtx = 218;
constexpr CUresult kUnsupportedPtxVersion = 222;
constexpr CUresult kInvalidHandle = 400;
constexpr CUresult kIllegalState = 401;
constexpr CUresult kNotFound = 500;
constexpr CUresult kIllegalAddress = 700;
constexpr CUresult kLaunchOutOfResources = 701;
constexpr CUresult kCaptureUnsupported = 900;
constexpr CUresult kCaptureInvalidated = 901;

/// The H200's (sm_90) limits.
namespace h200 {
constexpr int kComputeMajor = 9, kComputeMinor = 0;
constexpr unsigned kThreadsPerBlock = 1024;
constexpr unsigned kBlockDim[3] = {1024, 1024, 64};
constexpr unsigned kGridDim[3] = {2147483647u, 65535, 65535};
/// Shared memory per block without the kernel's opt-in, and with it.
constexpr unsigned kSharedPerBlock = 48 * 1024;
constexpr unsigned kSharedPerBlockOptIn = 227 * 1024;
constexpr unsigned kSharedPerMultiprocessor = 228 * 1024;
constexpr unsigned kRegistersPerBlock = 64 * 1024;
constexpr unsigned kRegistersPerThread = 255;
constexpr int kMultiprocessors = 132;
/// Memory as nvidia-smi reports it: 143771 MiB.
constexpr unsigned long long kMemoryBytes = 143771ull << 20;
/// The newest PTX ISA its driver (CUDA 13.0) reads.
constexpr int kPtxMajor = 9, kPtxMinor = 0;
} // namespace h200

/// A loaded (or unloaded) module. Never forgotten, so that a handle of an
/// unloaded one is named as such rather than mistaken for another.
struct Module {
  uint64_t id = 0;
  std::shared_ptr<const std::string> ptx;
  PtxModule parsed;
  /// Registers per thread per entry, where ptxas said (DGC_STANDIN_PTXAS).
  std::map<std::string, unsigned> registers;
  bool loaded = true;
};

struct Function {
  uint64_t id = 0;
  std::shared_ptr<Module> module;
  const PtxEntry *entry = nullptr;
  /// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES.
  unsigned maxDynamicShared = 0;
};

/// A kernel launch: run, recorded into a graph, or replayed from one.
struct Launch {
  std::shared_ptr<Function> function;
  unsigned grid[3] = {1, 1, 1}, block[3] = {1, 1, 1};
  unsigned sharedBytes = 0;
  /// Each parameter's bytes, as copied at launch.
  std::vector<std::vector<unsigned char>> params;
  bool replayed = false;
};

/// A node of a captured graph: a launch, or a memset (`function` null).
struct Node {
  Launch launch;
  CUdeviceptr memsetAt = 0;
  size_t memsetBytes = 0;
  unsigned char memsetValue = 0;
};

struct Stream {
  bool capturing = false;
  bool invalidated = false; // a call broke the capture
  uint64_t graph = 0;       // what the capture records into
};

struct Allocation {
  size_t bytes = 0;
  bool managed = false;
  bool mapped = false; // mmap rather than aligned_alloc
};

/// Writes or reads device memory for the driver's own copies and memsets:
/// device memory is mapped without access, so that host code touching it
/// faults as it would on a GPU, and opened only around `work`.
void withHostAccess(const Allocation &a, CUdeviceptr start,
                    const std::function<void()> &work);

/// Kinds of handle: each is (kind << 40 | id), ids never reused.
enum class Kind : uintptr_t {
  Context = 1,
  Module,
  Function,
  Stream,
  Graph,
  GraphExec
};

template <typename T> T handleOf(Kind kind, uint64_t id) {
  return reinterpret_cast<T>(static_cast<uintptr_t>(kind) << 40 | id);
}
template <typename T> uint64_t idOf(Kind kind, T handle) {
  auto bits = reinterpret_cast<uintptr_t>(handle);
  return bits >> 40 == static_cast<uintptr_t>(kind) ? bits & ((1ull << 40) - 1)
                                                    : 0;
}

/// The driver's whole state, behind one lock.
struct State {
  std::mutex mutex;
  bool initialised = false;
  int primaryRetains = 0;
  uint64_t nextId = 1;

  std::map<uint64_t, std::shared_ptr<Module>> modules;
  std::map<uint64_t, std::shared_ptr<Function>> functions;
  std::map<std::pair<uint64_t, std::string>, uint64_t> functionByName;
  std::map<uint64_t, Stream> streams;
  std::map<uint64_t, std::vector<Node>> graphs, execs;
  std::map<CUdeviceptr, Allocation> allocations;
  size_t bytesAllocated = 0, peakBytes = 0;
  unsigned long long memoryBytes = h200::kMemoryBytes;
  /// PTX text to ptxas's registers per entry, or its error log.
  std::map<std::string, std::pair<std::map<std::string, unsigned>, std::string>>
      ptxasCache;

  // The log tests read.
  std::deque<Launch> launches;
  size_t replayedLaunches = 0, capturedLaunches = 0, modulesLoaded = 0;
  size_t failedCalls = 0;
  CUresult lastFailureCode = kSuccess;
  std::string lastFailure;
  std::set<std::string> messages; // interned: pointers handed out stay valid
  FILE *logFile = nullptr;        // DGC_STANDIN_LOG

  /// Records why `call` fails with `code` and returns the code.
  CUresult fail(CUresult code, const char *call, const std::string &why);
  /// The allocation holding [at, at + bytes), or null.
  const Allocation *findAllocation(CUdeviceptr at, size_t bytes) const;
  /// Frees every allocation (the context is gone).
  void releaseAll();
  /// The function behind `handle` if its module is loaded; else null, with
  /// `error` set to the failure of `call`.
  std::shared_ptr<Function> liveFunction(CUfunction handle, const char *call,
                                         CUresult &error);
  /// kNotInitialized / kInvalidContext when calls cannot be made yet.
  CUresult ready(const char *call, bool needsContext);
  const char *intern(const std::string &text);
  /// Checks a launch's function, shape, resources and arguments.
  CUresult checkLaunch(const char *call, const Launch &launch);
  /// Appends a launch run (or replayed) to the log.
  void record(const Launch &launch);
};

State &state();
/// The memory budget: DGC_STANDIN_MEMORY, else the H200's.
unsigned long long memoryBudget();
/// "0x1f".
std::string hexText(size_t value);

/// Registers per thread of each entry of `ptx`, by ptxas at `ptxas` for
/// `arch`; false with ptxas's log when it rejects the text.
bool registersByPtxas(const std::string &ptxas, const std::string &arch,
                      const std::string &ptx,
                      std::map<std::string, unsigned> &registers,
                      std::string &log);

} // namespace dgc::standin

#endif // DGC_TEST_STANDINCUDA_STANDIN_H
