//===- HostThreads.cpp - A fork-join pool for host code's parallel loops --===//
//
// A step of the host target is hundreds of loop nests of tens of
// microseconds each, so a fork must cost far less than that. A fork
// publishes its chunks in one atomic word, (job, chunks, next chunk), which
// threads claim chunks from by compare-and-swap; the forking thread runs
// chunks too and returns once every chunk has finished. It does not wait
// for workers that found nothing to do: a worker still asleep, or off its
// core, when a fork comes only joins the forks after it. Workers spin on
// the word for a while after each job before they sleep.
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

/// The claim word: bits 40-63 the job, 20-39 its chunks, 0-19 the next one.
struct Claim {
  static constexpr uint64_t kField = (uint64_t(1) << 20) - 1;
  uint64_t word;
  uint64_t job() const { return word >> 40; }
  uint64_t chunks() const { return (word >> 20) & kField; }
  uint64_t next() const { return word & kField; }
  bool open() const { return next() < chunks(); }
  static Claim make(uint64_t job, uint64_t chunks, uint64_t next) {
    return {(job & 0xffffff) << 40 | chunks << 20 | next};
  }
};

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
    // A few chunks per thread, so that a slow thread is not waited for long.
    int64_t chunk = std::max<int64_t>(1, count / (int64_t(threads()) * 4));
    uint64_t chunks = uint64_t((count + chunk - 1) / chunk);
    // No chunk of the previous job is still claimable (all finished), so no
    // thread reads these while they change.
    body_.store(body, std::memory_order_relaxed);
    context_.store(context, std::memory_order_relaxed);
    count_.store(count, std::memory_order_relaxed);
    chunk_.store(chunk, std::memory_order_relaxed);
    remaining_.store(int64_t(chunks), std::memory_order_relaxed);
    ++job_;
    claim_.store(Claim::make(job_, chunks, 0).word);
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    runChunks();
    // Only chunks that another thread claimed are left: they finish within
    // microseconds unless other processes keep that thread off its core, so
    // spin briefly, then yield this core.
    for (int spin = 0; remaining_.load(std::memory_order_acquire) != 0; ++spin)
      spin < 2000 ? relax() : std::this_thread::yield();
    return true;
  }

private:
  /// Claims and runs chunks of the current job until none is left.
  void runChunks() {
    Claim claim{claim_.load(std::memory_order_acquire)};
    while (claim.open()) {
      Claim taken = Claim::make(claim.job(), claim.chunks(), claim.next() + 1);
      if (!claim_.compare_exchange_weak(claim.word, taken.word,
                                        std::memory_order_acq_rel))
        continue; // `claim` now holds the word another thread wrote
      // The job cannot change while one of its chunks is unfinished.
      int64_t chunk = chunk_.load(std::memory_order_relaxed);
      int64_t count = count_.load(std::memory_order_relaxed);
      int64_t begin = int64_t(claim.next()) * chunk;
      body_.load(std::memory_order_relaxed)(
          context_.load(std::memory_order_relaxed), begin,
          std::min(count, begin + chunk));
      remaining_.fetch_sub(1, std::memory_order_release);
      claim.word = claim_.load(std::memory_order_acquire);
    }
  }

  void work() {
    for (;;) {
      // Spin first: the next nest's fork usually comes within microseconds.
      for (int spin = 0; spin < 4000; ++spin) {
        if (Claim{claim_.load(std::memory_order_relaxed)}.open())
          break;
        relax();
      }
      if (!Claim{claim_.load(std::memory_order_acquire)}.open()) {
        // Sleep until a fork opens a job. A fork that stored its claim
        // before this count went up is seen by the wait's first check.
        ++sleepers_;
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] {
          return stopping_ || Claim{claim_.load()}.open();
        });
        --sleepers_;
        if (stopping_)
          return;
      }
      runChunks();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex busy_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t job_ = 0; // the forking thread's count of jobs
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<ParallelBody> body_{nullptr};
  std::atomic<void *> context_{nullptr};
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> chunk_{1};
  std::atomic<int64_t> remaining_{0};
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
