//===- Graphs.cpp - The stand-in's stream capture and graphs --------------===//
//
// Between cuStreamBeginCapture and cuStreamEndCapture, a stream's launches
// and memsets are checked and recorded into a graph rather than run; a wait
// on the stream breaks the capture, as the driver's does. Replaying an
// instantiated graph checks its launches again (their modules and the
// memory their arguments name must still be there) and logs them.
//
//===----------------------------------------------------------------------===//

#include "StandIn.h"

#include <cstring>

using namespace dgc::standin;

DGC_STANDIN_EXPORT CUresult cuStreamBeginCapture_v2(CUstream stream, int mode) {
  const char *call = "cuStreamBeginCapture";
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready(call, true))
    return r;
  if (!stream)
    return s.fail(kCaptureUnsupported, call,
                  "the legacy default stream cannot capture");
  auto it = s.streams.find(idOf(Kind::Stream, stream));
  if (it == s.streams.end())
    return s.fail(kInvalidHandle, call, "not a live stream");
  if (mode < 0 || mode > 2)
    return s.fail(kInvalidValue, call, "unknown capture mode");
  if (it->second.capturing)
    return s.fail(kIllegalState, call, "the stream is already capturing");
  uint64_t graph = s.nextId++;
  s.graphs[graph];
  it->second = Stream{true, false, graph};
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuStreamEndCapture(CUstream stream,
                                               CUgraph *graph) {
  const char *call = "cuStreamEndCapture";
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready(call, true))
    return r;
  auto it = s.streams.find(idOf(Kind::Stream, stream));
  if (it == s.streams.end() || !graph)
    return s.fail(kInvalidHandle, call, "not a live stream");
  Stream ended = it->second;
  it->second = Stream();
  if (!ended.capturing)
    return s.fail(kIllegalState, call, "the stream is not capturing");
  if (ended.invalidated) {
    s.graphs.erase(ended.graph);
    return s.fail(kCaptureInvalidated, call,
                  "a call during the capture invalidated it");
  }
  *graph = handleOf<CUgraph>(Kind::Graph, ended.graph);
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuGraphInstantiateWithFlags(
    CUgraphExec *exec, CUgraph graph, unsigned long long flags) {
  const char *call = "cuGraphInstantiateWithFlags";
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready(call, true))
    return r;
  auto it = s.graphs.find(idOf(Kind::Graph, graph));
  if (it == s.graphs.end() || !exec)
    return s.fail(kInvalidValue, call, "not a graph handle");
  if (flags > 15)
    return s.fail(kInvalidValue, call, "unknown flags");
  uint64_t id = s.nextId++;
  s.execs[id] = it->second;
  *exec = handleOf<CUgraphExec>(Kind::GraphExec, id);
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  const char *call = "cuGraphLaunch";
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult r = s.ready(call, true))
    return r;
  auto it = s.execs.find(idOf(Kind::GraphExec, exec));
  if (it == s.execs.end())
    return s.fail(kInvalidHandle, call, "not an instantiated graph");
  Stream *target = nullptr;
  if (stream) {
    auto found = s.streams.find(idOf(Kind::Stream, stream));
    if (found == s.streams.end())
      return s.fail(kInvalidHandle, call, "not a live stream");
    target = &found->second;
  }
  // Checked whole before any of it counts as run.
  for (const Node &node : it->second) {
    if (!node.launch.function) {
      if (!s.findAllocation(node.memsetAt, node.memsetBytes))
        return s.fail(kIllegalAddress, call,
                      "a recorded memset's memory was freed");
      continue;
    }
    if (!node.launch.function->module->loaded)
      return s.fail(kInvalidHandle, call,
                    "the graph launches kernel '" +
                        node.launch.function->entry->name + "' of module #" +
                        std::to_string(node.launch.function->module->id) +
                        ", which was unloaded");
    if (CUresult r = s.checkLaunch(call, node.launch))
      return r;
  }
  for (const Node &node : it->second) {
    if (target && target->capturing) {
      s.graphs[target->graph].push_back(node);
      continue;
    }
    if (!node.launch.function) {
      auto held = --s.allocations.upper_bound(node.memsetAt);
      withHostAccess(held->second, held->first, [&] {
        std::memset(reinterpret_cast<void *>(node.memsetAt), node.memsetValue,
                    node.memsetBytes);
      });
      continue;
    }
    Launch replay = node.launch;
    replay.replayed = true;
    s.record(replay);
  }
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuGraphExecDestroy(CUgraphExec exec) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.execs.erase(idOf(Kind::GraphExec, exec)))
    return s.fail(kInvalidHandle, "cuGraphExecDestroy",
                  "not an instantiated graph");
  return kSuccess;
}

DGC_STANDIN_EXPORT CUresult cuGraphDestroy(CUgraph graph) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.graphs.erase(idOf(Kind::Graph, graph)))
    return s.fail(kInvalidHandle, "cuGraphDestroy", "not a graph handle");
  return kSuccess;
}
