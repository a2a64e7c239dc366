#include "worker/train/comm/stall_inspector.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "worker/train/comm/communicator.h"

namespace gradpool {
namespace {

std::string arrival_key(int rank) { return fmt::format("gradpool/arrived/{}", rank); }
// Raised every tick by a rank that waits inside a collective (and by one inspecting a stall): a
// rank that arrived but was then stopped or frozen (SIGSTOP, a swapped-out host) stops raising it.
std::string alive_key(int rank) { return fmt::format("gradpool/alive/{}", rank); }

std::chrono::milliseconds tick_interval(std::chrono::milliseconds timeout) {
  return std::clamp(timeout / 8, std::chrono::milliseconds(50), std::chrono::milliseconds(1000));
}

}  // namespace

StallInspector::StallInspector(int rank, int size, StoreFactory connect,
                               std::chrono::milliseconds timeout, std::function<void()> abort)
    : rank_(rank),
      size_(size),
      connect_(std::move(connect)),
      marks_(connect_()),
      timeout_(timeout),
      abort_(std::move(abort)),
      watchdog_([this] { watch(); }) {}

StallInspector::~StallInspector() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  watchdog_.join();
}

void StallInspector::enter(const char* collective) {
  // The deadline is armed before the arrival mark: the store's host (rank 0) may be the rank that
  // hangs, and then the mark itself never returns (c10d's TCPStore::add has no timeout).
  int64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = true;
    seq = ++seq_;  // = this rank's counter in the store: only this rank raises it, once a call
    collective_ = collective;
    deadline_ = std::chrono::steady_clock::now() + timeout_;
  }
  changed_.notify_all();
  try {
    marks_->add(arrival_key(rank_), 1);
  } catch (const std::exception& e) {
    // A store that fails now cannot bootstrap or witness much; the armed deadline still holds.
    spdlog::warn("rank {}: {} #{}: could not mark the arrival in the rendezvous store: {}", rank_,
                 collective, seq, e.what());
  }
}

void StallInspector::leave() {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = false;
}

std::string StallInspector::missing_ranks(int64_t seq) {
  // Ask from a helper thread within a bound: a stopped store host never answers. A rank that
  // arrived is alive if its alive mark rises within two ticks.
  const auto tick = tick_interval(timeout_), watch_for = 2 * tick + std::chrono::milliseconds(100);
  auto query = std::make_shared<std::promise<std::string>>();
  std::future<std::string> answer = query->get_future();
  std::thread([this, seq, query, tick, watch_for] {
    try {
      auto store = connect_();
      std::vector<int64_t> arrived(size_), alive(size_);
      std::vector<bool> silent(size_);
      for (int r = 0; r < size_; ++r) {
        arrived[r] = store->add(arrival_key(r), 0);
        alive[r] = store->add(alive_key(r), 0);
        silent[r] = r != rank_ && arrived[r] >= seq;
      }
      const auto until = std::chrono::steady_clock::now() + watch_for;
      while (std::find(silent.begin(), silent.end(), true) != silent.end() &&
             std::chrono::steady_clock::now() < until) {
        store->add(alive_key(rank_), 1);  // this rank is alive too, for the others' inspectors
        std::this_thread::sleep_for(tick / 4);
        for (int r = 0; r < size_; ++r)
          if (silent[r] && store->add(alive_key(r), 0) != alive[r]) silent[r] = false;
      }
      std::string missing;
      for (int r = 0; r < size_; ++r) {
        const char* sep = missing.empty() ? "" : ", ";
        if (arrived[r] < seq)
          missing +=
              fmt::format("{}rank {} (reached collective {} of {})", sep, r, arrived[r], seq);
        else if (silent[r])
          missing += fmt::format("{}rank {} (arrived at collective {}, then stopped responding)",
                                 sep, r, seq);
      }
      query->set_value(missing.empty() ? "none missing by the store's count" : missing);
    } catch (const std::exception& e) {
      query->set_value(fmt::format("unknown: the rendezvous store failed ({})", e.what()));
    }
  }).detach();
  if (answer.wait_for(watch_for + std::chrono::seconds(2)) == std::future_status::ready)
    return answer.get();
  return "rank 0 — it hosts the rendezvous store and does not answer";
}

void StallInspector::watch() {
  // While armed, wake every tick to raise this rank's alive mark — from a helper thread, one mark
  // at a time, so that a stopped store host cannot stall the watchdog.
  const auto tick = tick_interval(timeout_);
  c10::intrusive_ptr<c10d::Store> alive_store;
  try {
    alive_store = connect_();
  } catch (const std::exception& e) {
    spdlog::warn("rank {}: no rendezvous store connection for liveness marks: {}", rank_, e.what());
  }
  auto marking = std::make_shared<std::atomic<bool>>(false);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (!armed_) {
      changed_.wait(lock);
      continue;
    }
    const int64_t seq = seq_;
    const auto wake = std::min(deadline_, std::chrono::steady_clock::now() + tick);
    if (changed_.wait_until(lock, wake) != std::cv_status::timeout || !armed_ || seq != seq_)
      continue;
    if (std::chrono::steady_clock::now() < deadline_) {
      if (alive_store && !marking->exchange(true))
        std::thread([store = alive_store, marking, key = alive_key(rank_)] {
          try {
            store->add(key, 1);
          } catch (const std::exception&) {
          }
          *marking = false;
        }).detach();
      continue;
    }
    const std::string collective = collective_;
    lock.unlock();
    const std::string missing = missing_ranks(seq);
    spdlog::critical(
        "rank {}: {} #{} did not complete within {} s (--collective-timeout); ranks that did not "
        "arrive: {}. Aborting.",
        rank_, collective, seq, timeout_.count() / 1000.0, missing);
    spdlog::default_logger()->flush();
    abort_();
    std::_Exit(kExitCollectiveTimeout);
  }
}

}  // namespace gradpool
