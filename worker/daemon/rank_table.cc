#include "worker/daemon/rank_table.h"

#include <algorithm>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/file_util.h"
#include "common/job_spec.h"

namespace gradpool {
namespace fs = std::filesystem;

RankTable::RankTable(LaunchSettings launch, std::string cache_dir, std::vector<Slot> slots,
                     ShardCache& cache, RankMetricsRelay* metrics)
    : launch_(std::move(launch)),
      cache_dir_(std::move(cache_dir)),
      slots_(std::move(slots)),
      cache_(cache),
      metrics_(metrics) {}

RankTable::~RankTable() = default;

void RankTable::start(const v1::RankAssignment& assignment) {
  const v1::RankRef& ref = assignment.ref();
  std::lock_guard<std::mutex> lock(mutex_);
  auto& rank = ranks_[key_of(ref)];
  if (rank) return;
  spdlog::info("job {} attempt {} rank {}/{}: starting on slot {}", ref.job_id(), ref.attempt(),
               ref.rank(), assignment.world_size(), assignment.slot());
  RankProcess::EventObserver on_event;
  RankProcess::ExitObserver on_exit;
  if (metrics_) {
    on_event = [this, ref](std::string_view line) { metrics_->event(ref, line); };
    on_exit = [this, ref] { metrics_->exited(ref); };
  }
  rank = std::make_shared<RankProcess>(
      ref, [this, assignment] { return prepare(assignment); }, on_event, on_exit);
}

RankCommand RankTable::prepare(const v1::RankAssignment& assignment) const {
  const v1::RankRef& ref = assignment.ref();
  const std::string where =
      fmt::format("job {} attempt {} rank {}", ref.job_id(), ref.attempt(), ref.rank());
  if (ref.job_id() == 0 || ref.attempt() < 1 || ref.rank() < 0 ||
      ref.rank() >= assignment.world_size())
    fail("{}: not a valid rank of a world of {}", where, assignment.world_size());
  const auto slot = std::find_if(slots_.begin(), slots_.end(), [&](const Slot& candidate) {
    return candidate.index == assignment.slot();
  });
  if (slot == slots_.end())
    fail("{}: slot {} does not exist on this worker ({} slots)", where, assignment.slot(),
         slots_.size());
  const fs::path work_dir = fs::path(cache_dir_) / "jobs" / std::to_string(ref.job_id()) /
                            ("attempt-" + std::to_string(ref.attempt())) /
                            ("rank-" + std::to_string(ref.rank()));
  fs::create_directories(work_dir);
  JobSpec spec = parse_job_spec(assignment.spec_yaml(), where + " spec");
  if (!assignment.dataset().name().empty())
    spec.dataset = cache_.dataset_file(assignment.dataset());
  const std::string spec_path = (work_dir / "spec.yaml").string();
  write_file_atomic(spec_path, to_yaml(spec));
  if (metrics_) metrics_->started(ref, *slot);
  return rank_command(launch_, assignment, *slot, spec_path, work_dir.string(),
                      current_environment());
}

void RankTable::stop(const v1::RankRef& ref, std::chrono::milliseconds grace) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = ranks_.find(key_of(ref));
  if (found == ranks_.end()) return;
  spdlog::info("job {} attempt {} rank {}: stopping (grace {} ms)", ref.job_id(), ref.attempt(),
               ref.rank(), grace.count());
  found->second->stop(grace);
}

void RankTable::forget(const v1::RankRef& ref) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = ranks_.find(key_of(ref));
  if (found == ranks_.end()) return;
  if (!found->second->exited()) {
    spdlog::warn("job {} attempt {} rank {}: the coordinator said forget, but it still runs",
                 ref.job_id(), ref.attempt(), ref.rank());
    return;
  }
  ranks_.erase(found);
}

RankTable::Reports RankTable::reports() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Reports batch;
  for (const auto& [key, rank] : ranks_) {
    RankProcess::LogMark mark;
    batch.reports.push_back(rank->report(&mark));
    batch.marks.emplace_back(rank, mark);
  }
  return batch;
}

void RankTable::delivered(const Reports& sent) {
  for (const auto& [rank, mark] : sent.marks) rank->log_delivered(mark);
}

void RankTable::stop_all(std::chrono::milliseconds grace) {
  std::vector<std::shared_ptr<RankProcess>> all;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [key, rank] : ranks_) all.push_back(rank);
  }
  for (const auto& rank : all) rank->stop(grace);
  for (const auto& rank : all) rank->wait();
}

size_t RankTable::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t count = 0;
  for (const auto& [key, rank] : ranks_) count += rank->exited() ? 0 : 1;
  return count;
}

}  // namespace gradpool
