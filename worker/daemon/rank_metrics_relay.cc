#include "worker/daemon/rank_metrics_relay.h"

#include <utility>

#include <spdlog/spdlog.h>

#include "common/error.h"

namespace gradpool {

RankMetricsRelay::RankMetricsRelay(prometheus::Registry& registry, std::string worker_id,
                                   std::string hostname, std::chrono::milliseconds linger)
    : series_(registry, metrics::Component::kWorker),
      worker_id_(std::move(worker_id)),
      hostname_(std::move(hostname)),
      linger_(linger),
      remover_([this] { remove_expired(); }) {}

RankMetricsRelay::~RankMetricsRelay() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  remover_.join();
}

void RankMetricsRelay::started(const v1::RankRef& ref, const Slot& slot) {
  const std::string job_id = std::to_string(ref.job_id());
  std::lock_guard<std::mutex> lock(mutex_);
  Rank& rank = ranks_[{ref.job_id(), ref.rank()}];
  rank.attempt = ref.attempt();
  rank.remove_at.reset();
  series_.set_placement(job_id, ref.rank(),
                        {worker_id_, hostname_, slot.index, slot.name, slot.uuid});
}

void RankMetricsRelay::event(const v1::RankRef& ref, std::string_view line) {
  const auto event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  std::string problem;
  if (event.is_discarded()) {
    problem = "not JSON";
  } else {
    try {
      series_.apply(std::to_string(ref.job_id()), ref.rank(), event);
      return;
    } catch (const Error& e) {
      problem = e.what();
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = ranks_.find({ref.job_id(), ref.rank()});
  if (found != ranks_.end() && std::exchange(found->second.warned, true)) return;
  spdlog::warn("job {} attempt {} rank {}: report line ignored by the metrics ({}): {}",
               ref.job_id(), ref.attempt(), ref.rank(), problem, line.substr(0, 200));
}

void RankMetricsRelay::exited(const v1::RankRef& ref) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = ranks_.find({ref.job_id(), ref.rank()});
  if (found == ranks_.end() || found->second.attempt != ref.attempt()) return;
  series_.clear_placement(std::to_string(ref.job_id()), ref.rank());
  found->second.remove_at = Clock::now() + linger_;
  wake_.notify_all();
}

void RankMetricsRelay::remove_expired() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    std::optional<Clock::time_point> next;
    for (auto rank = ranks_.begin(); rank != ranks_.end();) {
      const auto& remove_at = rank->second.remove_at;
      if (remove_at && *remove_at <= Clock::now()) {
        series_.remove(std::to_string(rank->first.first), rank->first.second);
        rank = ranks_.erase(rank);
        continue;
      }
      if (remove_at && (!next || *remove_at < *next)) next = remove_at;
      ++rank;
    }
    if (next)
      wake_.wait_until(lock, *next);
    else
      wake_.wait(lock);
  }
}

}  // namespace gradpool
