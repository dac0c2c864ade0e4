//===- Driver.cpp - The stand-in's device, context, streams and errors ---===//
//
// One device with the H200's limits and its primary context, current per
// thread as the driver's is; streams; and why the last call failed, told
// through cuGetErrorString. Calls check their handles as the driver does.
//
//===----------------------------------------------------------------------===//

#include "StandIn.h"

#include <cstdlib>
#include <cstring>

namespace dgc::standin {
namespace {

thread_local bool current = false;

const std::map<CUresult, std::pair<const char *, const char *>> &codes() {
  static const std::map<CUresult, std::pair<const char *, const char *>> c = {
      {0, {"CUDA_SUCCESS", "no error"}},
      {1, {"CUDA_ERROR_INVALID_VALUE", "invalid argument"}},
      {2, {"CUDA_ERROR_OUT_OF_MEMORY", "out of memory"}},
      {3, {"CUDA_ERROR_NOT_INITIALIZED", "initialization error"}},
      {101, {"CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"}},
      {200, {"CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"}},
      {201, {"CUDA_ERROR_INVALID_CONTEXT", "invalid device context"}},
      {218, {"CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"}},
      {222,
       {"CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
        "the provided PTX was compiled with an unsupported toolchain."}},
      {400, {"CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"}},
      {401, {"CUDA_ERROR_ILLEGAL_STATE", "the operation is not permitted"}},
      {500, {"CUDA_ERROR_NOT_FOUND", "named symbol not found"}},
      {700,
       {"CUDA_ERROR_ILLEGAL_ADDRESS",
        "an illegal memory access was encountered"}},
      {701,
       {"CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
        "too many resources requested for launch"}},
      {900,
       {"CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
        "operation not permitted when stream is capturing"}},
      {901,
       {"CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
        "operation failed due to a previous error during capture"}},
  };
  return c;
}

} // namespace

State &state() {
  // Never destroyed: the runtime may call in during static destruction.
  static State *s = new State();
  return *s;
}

std::string hexText(size_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%zx", value);
  return text;
}

const char *State::intern(const std::string &text) {
  return messages.insert(text).first->c_str();
}

CUresult State::fail(CUresult code, const char *call, const std::string &why) {
  ++failedCalls;
  lastFailureCode = code;
  lastFailure = std::string(call) + ": " + why;
  if (logFile) {
    std::string text;
    for (char c : lastFailure)
      text += c == '"' || c == '\\' ? std::string("\\") + c
              : c == '\n'           ? std::string("\\n")
                                    : std::string(1, c);
    std::fprintf(logFile, "{\"failed\": \"%s\", \"code\": %d}\n", text.c_str(),
                 code);
    std::fflush(logFile);
  }
  return code;
}

CUresult State::ready(const char *call, bool needsContext) {
  if (!initialised)
    return fail(kNotInitialized, call, "cuInit has not succeeded");
  if (needsContext && (!current || primaryRetains == 0))
    return fail(kInvalidContext, call,
                "no context is current on this thread (cuCtxSetCurrent)");
  return kSuccess;
}

} // namespace dgc::standin

using namespace dgc::standin;

DGC_STANDIN_EXPORT CUresult cuInit(unsigned flags) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (flags != 0)
    return s.fail(kInvalidValue, "cuInit", "flags must be 0");
  if (!s.initialised) {
    s.memoryBytes = memoryBudget();
    if (const char *path = std::getenv("DGC_STANDIN_LOG"); path && *path)
      s.logFile = std::fopen(path, "a");
  }
  s.initialised = true;
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuDeviceGetCount(int *count) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuDeviceGetCount", false))
    return r;
  if (!count)
    return s.fail(kInvalidValue, "cuDeviceGetCount", "null count");
  *count = 1;
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuDeviceGet", false))
    return r;
  if (!device)
    return s.fail(kInvalidValue, "cuDeviceGet", "null device");
  if (ordinal != 0)
    return s.fail(kInvalidDevice, "cuDeviceGet",
                  "ordinal " + std::to_string(ordinal) + "; there is one GPU");
  *device = 0;
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuDeviceGetName(char *name, int length,
                                            CUdevice device) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuDeviceGetName", false))
    return r;
  if (device != 0)
    return s.fail(kInvalidDevice, "cuDeviceGetName", "no such device");
  if (!name || length <= 0)
    return s.fail(kInvalidValue, "cuDeviceGetName", "no room for the name");
  std::snprintf(name, static_cast<size_t>(length), "%s",
                "dgc stand-in (H200 limits)");
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuDeviceGetAttribute(int *value, int attribute,
                                                 CUdevice device) {
  using namespace h200;
  // CUdevice_attribute values.
  static const std::map<int, int> attributes = {
      {1, kThreadsPerBlock},
      {2, kBlockDim[0]},
      {3, kBlockDim[1]},
      {4, kBlockDim[2]},
      {5, static_cast<int>(kGridDim[0])},
      {6, kGridDim[1]},
      {7, kGridDim[2]},
      {8, kSharedPerBlock},
      {10, 32}, // warp size
      {12, kRegistersPerBlock},
      {16, kMultiprocessors},
      {75, kComputeMajor},
      {76, kComputeMinor},
      {81, kSharedPerMultiprocessor},
      {82, 64 * 1024}, // registers per multiprocessor
      {83, 1},         // managed memory
      {89, 1},         // concurrent managed access
      {97, kSharedPerBlockOptIn},
  };
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuDeviceGetAttribute", false))
    return r;
  auto it = attributes.find(attribute);
  if (!value || device != 0 || it == attributes.end())
    return s.fail(kInvalidValue, "cuDeviceGetAttribute",
                  "attribute " + std::to_string(attribute) +
                      " is not one the stand-in knows");
  *value = it->second;
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *context,
                                                     CUdevice device) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuDevicePrimaryCtxRetain", false))
    return r;
  if (!context || device != 0)
    return s.fail(kInvalidValue, "cuDevicePrimaryCtxRetain", "bad arguments");
  ++s.primaryRetains;
  *context = handleOf<CUcontext>(Kind::Context, 1);
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuDevicePrimaryCtxRelease", false))
    return r;
  if (device != 0 || s.primaryRetains == 0)
    return s.fail(kInvalidContext, "cuDevicePrimaryCtxRelease",
                  "the primary context is not retained");
  if (--s.primaryRetains > 0)
    return kSuccess;
  // The last release destroys the context and everything in it.
  for (auto &[id, module] : s.modules)
    module->loaded = false;
  s.streams.clear();
  s.graphs.clear();
  s.execs.clear();
  s.releaseAll();
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuCtxSetCurrent(CUcontext context) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuCtxSetCurrent", false))
    return r;
  if (!context) {
    current = false;
    return kSuccess;
  }
  if (idOf(Kind::Context, context) != 1 || s.primaryRetains == 0)
    return s.fail(kInvalidContext, "cuCtxSetCurrent",
                  "not the retained primary context");
  current = true;
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuStreamCreate(CUstream *stream, unsigned flags) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuStreamCreate", true))
    return r;
  if (!stream || flags > 1)
    return s.fail(kInvalidValue, "cuStreamCreate", "bad arguments");
  uint64_t id = s.nextId++;
  s.streams[id] = Stream();
  *stream = handleOf<CUstream>(Kind::Stream, id);
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuStreamSynchronize(CUstream stream) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuStreamSynchronize", false))
    return r;
  if (!stream)
    return kSuccess;
  auto it = s.streams.find(idOf(Kind::Stream, stream));
  if (it == s.streams.end())
    return s.fail(kInvalidHandle, "cuStreamSynchronize", "not a live stream");
  if (it->second.capturing) {
    it->second.invalidated = true;
    return s.fail(kCaptureUnsupported, "cuStreamSynchronize",
                  "the stream is capturing a graph; the capture is now "
                  "invalid");
  }
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuStreamDestroy_v2(CUstream stream) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready("cuStreamDestroy", false))
    return r;
  if (!s.streams.erase(idOf(Kind::Stream, stream)))
    return s.fail(kInvalidHandle, "cuStreamDestroy", "not a live stream");
  return kSuccess;
}

/// The profiler's bracket (`ncu --profile-from-start off`): logged, so that
/// tests see which launches fall inside it.
static CUresult profilerCall(const char *call) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready(call, true))
    return r;
  if (s.logFile) {
    std::fprintf(s.logFile, "{\"call\": \"%s\"}\n", call);
    std::fflush(s.logFile);
  }
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuProfilerStart() {
  return profilerCall("cuProfilerStart");
}

DGC_STANDIN_EXPORT CUresult cuProfilerStop() {
  return profilerCall("cuProfilerStop");
}

DGC_STANDIN_EXPORT CUresult cuGetErrorName(CUresult code, const char **name) {
  auto it = codes().find(code);
  if (!name)
    return kInvalidValue;
  *name = it == codes().end() ? nullptr : it->second.first;
  return it == codes().end() ? kInvalidValue : kSuccess;
}

/// The code's text, and for the code of the last failure why it failed.
DGC_STANDIN_EXPORT CUresult cuGetErrorString(CUresult code, const char **text) {
  auto it = codes().find(code);
  if (!text)
    return kInvalidValue;
  if (it == codes().end()) {
    *text = nullptr;
    return kInvalidValue;
  }
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  *text = code == s.lastFailureCode && !s.lastFailure.empty()
              ? s.intern(std::string(it->second.second) +
                         " (stand-in: " + s.lastFailure + ")")
              : it->second.second;
  return kSuccess;
}
