//===- HostThreads.cpp - A fork-join pool for host code's parallel loops --===//
//
// A step of the host target is hundreds of loop nests of tens of
// microseconds each, so a fork must cost far less than that: workers spin on
// the job counter for a while after each job before they sleep, and chunks
// are claimed with one atomic add each.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/HostThreads.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dgc::runtime {
namespace {

void relax() {
#if defined(__x86_64__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

class Pool {
public:
  explicit Pool(unsigned threads) {
    for (unsigned i = 1; i < threads; ++i)
      workers_.emplace_back([this] { work(); });
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      job_.fetch_add(1);
    }
    wake_.notify_all();
    for (std::thread &worker : workers_)
      worker.join();
  }

  unsigned threads() const { return unsigned(workers_.size()) + 1; }

  /// false when another call holds the pool.
  bool run(ParallelBody body, void *context, int64_t count) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock())
      return false;
    body_ = body;
    context_ = context;
    count_ = count;
    // A few chunks per thread, so that a slow thread is not waited for long.
    chunk_ = std::max<int64_t>(1, count / (int64_t(threads()) * 4));
    next_.store(0);
    pending_.store(int(workers_.size()));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_.fetch_add(1);
    }
    wake_.notify_all();
    runChunks();
    // A worker still running its last chunk finishes within microseconds;
    // one that other processes keep off the cores needs this core, so spin
    // briefly, then yield it.
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin)
      spin < 2000 ? relax() : std::this_thread::yield();
    return true;
  }

private:
  void runChunks() {
    for (;;) {
      int64_t begin = next_.fetch_add(chunk_);
      if (begin >= count_)
        return;
      body_(context_, begin, std::min(count_, begin + chunk_));
    }
  }

  void work() {
    uint64_t seen = 0;
    for (;;) {
      // Spin first: the next nest's fork usually comes within microseconds.
      for (int spin = 0; spin < 2000 && job_.load() == seen; ++spin)
        relax();
      if (job_.load() == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return job_.load() != seen; });
      }
      seen = job_.load();
      if (stopping_)
        return;
      runChunks();
      pending_.fetch_sub(1, std::memory_order_release);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex busy_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> job_{0};
  bool stopping_ = false;
  ParallelBody body_ = nullptr;
  void *context_ = nullptr;
  int64_t count_ = 0;
  int64_t chunk_ = 1;
  std::atomic<int64_t> next_{0};
  std::atomic<int> pending_{0};
};

std::atomic<unsigned> requestedThreads{0};
std::mutex poolMutex;
// Shared: a call still running on a pool keeps it while a new thread count
// replaces it.
std::shared_ptr<Pool> pool;

std::shared_ptr<Pool> currentPool() {
  unsigned threads = hostThreads();
  std::lock_guard<std::mutex> lock(poolMutex);
  if (threads <= 1)
    pool.reset();
  else if (!pool || pool->threads() != threads)
    pool = std::make_shared<Pool>(threads);
  return pool;
}

} // namespace

void setHostThreads(unsigned threads) { requestedThreads = threads; }

unsigned hostThreads() {
  if (requestedThreads)
    return requestedThreads;
  return std::max(1u, std::thread::hardware_concurrency());
}

void hostParallelFor(ParallelBody body, void *context, int64_t count) {
  if (count <= 0)
    return;
  std::shared_ptr<Pool> threads = count > 1 ? currentPool() : nullptr;
  if (!threads || !threads->run(body, context, count))
    body(context, 0, count);
}

} // namespace dgc::runtime
