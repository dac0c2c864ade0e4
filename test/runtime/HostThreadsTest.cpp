//===- HostThreadsTest.cpp - The pool host code's parallel loops run on ---===//

#include "dgc/runtime/HostThreads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace dgc::runtime;

namespace {

struct Visits {
  std::vector<std::atomic<int>> counts;
  explicit Visits(int64_t n) : counts(n) {}
};

void visit(void *context, int64_t begin, int64_t end) {
  auto *visits = static_cast<Visits *>(context);
  for (int64_t i = begin; i < end; ++i)
    visits->counts[i].fetch_add(1);
}

/// Every index of [0, count) runs exactly once, for `threads` threads.
void expectEachOnce(unsigned threads, int64_t count) {
  setHostThreads(threads);
  Visits visits(count);
  hostParallelFor(visit, &visits, count);
  for (int64_t i = 0; i < count; ++i)
    ASSERT_EQ(visits.counts[i].load(), 1) << "index " << i << " of " << count
                                          << " with " << threads << " threads";
}

} // namespace

TEST(HostThreads, EveryIterationRunsOnce) {
  for (unsigned threads : {1u, 2u, 3u, 8u})
    for (int64_t count : {1, 2, 7, 64, 1000, 4097})
      expectEachOnce(threads, count);
  setHostThreads(0);
}

TEST(HostThreads, ManyForksInARow) {
  // The step of a model is hundreds of forks: none may be lost or joined
  // early by a worker still finishing the one before.
  setHostThreads(4);
  Visits visits(256);
  for (int round = 0; round < 2000; ++round)
    hostParallelFor(visit, &visits, 256);
  for (int64_t i = 0; i < 256; ++i)
    ASSERT_EQ(visits.counts[i].load(), 2000) << "index " << i;
  setHostThreads(0);
}

TEST(HostThreads, CallsFromTwoThreadsBothComplete) {
  // Two generators calling graphs at once: the second fork finds the pool
  // busy and runs on its own thread.
  setHostThreads(2);
  Visits a(10000), b(10000);
  std::thread other([&] {
    for (int round = 0; round < 200; ++round)
      hostParallelFor(visit, &b, 10000);
  });
  for (int round = 0; round < 200; ++round)
    hostParallelFor(visit, &a, 10000);
  other.join();
  for (int64_t i = 0; i < 10000; ++i) {
    ASSERT_EQ(a.counts[i].load(), 200) << "index " << i;
    ASSERT_EQ(b.counts[i].load(), 200) << "index " << i;
  }
  setHostThreads(0);
}

TEST(HostThreads, EmptyRangeRunsNothing) {
  Visits visits(1);
  hostParallelFor(visit, &visits, 0);
  EXPECT_EQ(visits.counts[0].load(), 0);
}

TEST(HostThreads, DefaultIsOnePerCore) {
  setHostThreads(0);
  EXPECT_EQ(hostThreads(), std::max(1u, std::thread::hardware_concurrency()));
  setHostThreads(3);
  EXPECT_EQ(hostThreads(), 3u);
  setHostThreads(0);
}
