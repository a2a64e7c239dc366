#include "worker/train/comm/stall_inspector.h"

#include <future>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "worker/train/comm/communicator.h"

namespace gradpool {
namespace {

std::string arrival_key(int rank) { return fmt::format("gradpool/arrived/{}", rank); }

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
  // Ask from a helper thread and give it a few seconds: a stopped store host never answers.
  auto query = std::make_shared<std::promise<std::string>>();
  std::future<std::string> answer = query->get_future();
  std::thread([this, seq, query] {
    try {
      auto store = connect_();
      std::string missing;
      for (int r = 0; r < size_; ++r) {
        const int64_t arrived = store->add(arrival_key(r), 0);
        if (arrived < seq)
          missing += fmt::format("{}rank {} (reached collective {} of {})",
                                 missing.empty() ? "" : ", ", r, arrived, seq);
      }
      query->set_value(missing.empty() ? "none missing by the store's count" : missing);
    } catch (const std::exception& e) {
      query->set_value(fmt::format("unknown: the rendezvous store failed ({})", e.what()));
    }
  }).detach();
  if (answer.wait_for(std::chrono::seconds(3)) == std::future_status::ready) return answer.get();
  return "rank 0 — it hosts the rendezvous store and does not answer";
}

void StallInspector::watch() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (!armed_) {
      changed_.wait(lock);
      continue;
    }
    const int64_t seq = seq_;
    if (changed_.wait_until(lock, deadline_) != std::cv_status::timeout || !armed_ ||
        seq != seq_)
      continue;
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
