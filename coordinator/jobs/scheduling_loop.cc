#include "coordinator/jobs/scheduling_loop.h"

#include <map>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>

#include "coordinator/jobs/clock.h"

namespace gradpool {
namespace {

v1::PendingReason to_proto(sched::PendingReason reason) {
  switch (reason) {
    case sched::PendingReason::kNone:
      return v1::REASON_NONE;
    case sched::PendingReason::kWaitingForGpus:
      return v1::REASON_WAITING_FOR_GPUS;
    case sched::PendingReason::kPriority:
      return v1::REASON_PRIORITY;
    case sched::PendingReason::kQuota:
      return v1::REASON_QUOTA;
    case sched::PendingReason::kNoMatchingGpus:
      return v1::REASON_NO_MATCHING_GPUS;
    case sched::PendingReason::kStoppingPrevious:
      return v1::REASON_STOPPING_PREVIOUS;
  }
  return v1::REASON_NONE;
}

// GPU memory in the spec is in GB (10^9 bytes), as GPU vendors count it: an 8 GB card qualifies
// for min_gpu_memory_gb: 8 although it has a little less than 8 GiB.
constexpr double kBytesPerGb = 1e9;

}  // namespace

SchedulingLoop::SchedulingLoop(Database& db, JobStore& jobs, RankStore& ranks, WorkerStore& workers,
                               UsageStore& usage, Lifecycle& lifecycle, PoolMetrics& metrics,
                               const sched::Policy& policy, std::chrono::milliseconds interval,
                               std::function<void(int64_t)> before_pass)
    : db_(db),
      jobs_(jobs),
      ranks_(ranks),
      workers_(workers),
      usage_(usage),
      lifecycle_(lifecycle),
      metrics_(metrics),
      policy_(policy),
      interval_(interval),
      before_pass_(std::move(before_pass)) {}

SchedulingLoop::~SchedulingLoop() {
  stop();
}

void SchedulingLoop::start() {
  thread_ = std::thread([this] { run(); });
}

void SchedulingLoop::stop() {
  {
    std::lock_guard held(mutex_);
    stopping_ = true;
  }
  wakeup_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SchedulingLoop::wake() {
  {
    std::lock_guard held(mutex_);
    woken_ = true;
  }
  wakeup_.notify_all();
}

void SchedulingLoop::run() {
  std::unique_lock held(mutex_);
  while (!stopping_) {
    wakeup_.wait_for(held, interval_, [this] { return woken_ || stopping_; });
    if (stopping_) break;
    woken_ = false;
    held.unlock();
    try {
      const int64_t now_ms = unix_now_ms();
      before_pass_(now_ms);
      const auto started = std::chrono::steady_clock::now();
      const PoolMetrics::PoolSnapshot pool = pass(now_ms);
      metrics_.scheduling_pass(
          pool, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    } catch (const std::exception& e) {
      // The next pass retries; a broken database shows up in every RPC as well.
      spdlog::error("scheduling pass failed: {}", e.what());
    }
    held.lock();
  }
}

PoolMetrics::PoolSnapshot SchedulingLoop::pass(int64_t now_ms) {
  PoolMetrics::PoolSnapshot snapshot;
  db_.transaction([&] {
    std::vector<JobRecord> placed_records =
        jobs_.list({"", {v1::JOB_STARTING, v1::JOB_RUNNING}, 0});
    for (JobRecord& job : placed_records) lifecycle_.account_usage(job, now_ms);

    // Busy slots and GPUs held per user come from the live ranks of every job and attempt.
    sched::Usage usage;
    usage.decayed_gpu_seconds = usage_.decayed(now_ms);
    std::set<std::pair<std::string, int>>& busy = snapshot.busy_slots;
    std::set<uint64_t> jobs_with_live_ranks;
    std::map<uint64_t, std::string> owner;
    for (const RankRecord& rank : ranks_.live()) {
      busy.emplace(rank.worker_id, rank.slot);
      jobs_with_live_ranks.insert(rank.job_id);
      if (!owner.count(rank.job_id))
        if (const auto job = jobs_.find(rank.job_id)) owner[rank.job_id] = job->job.user();
      ++usage.gpus_in_use[owner[rank.job_id]];
    }

    std::vector<sched::WorkerView> pool;
    std::map<std::pair<std::string, int>, std::string> gpu_names;
    snapshot.workers = workers_.list();
    for (const v1::Worker& worker : snapshot.workers) {
      if (worker.state() != v1::WORKER_UP) continue;
      sched::WorkerView& view = pool.emplace_back();
      view.id = worker.id();
      for (const v1::Gpu& gpu : worker.gpus()) {
        view.slots.push_back({gpu.index(), gpu.name(),
                              static_cast<double>(gpu.memory_bytes()) / kBytesPerGb,
                              busy.count({worker.id(), gpu.index()}) > 0});
        gpu_names[{worker.id(), gpu.index()}] = gpu.name();
      }
    }

    std::vector<JobRecord> queued_records = jobs_.list({"", {v1::JOB_QUEUED}, 0});
    std::map<uint64_t, JobRecord*> queued_by_id;
    std::vector<sched::QueuedJob> queue;
    for (JobRecord& record : queued_records) {
      const v1::Job& job = record.job;
      queued_by_id[job.id()] = &record;
      queue.push_back({job.id(), job.user(), job.priority(), job.submit_ms(), job.gpus(),
                       job.gpu_type(), job.min_gpu_memory_gb(),
                       jobs_with_live_ranks.count(job.id()) > 0});
    }

    const sched::Decision decision = sched::schedule(pool, queue, usage, policy_);
    for (const sched::Placement& placement : decision.placements) {
      std::vector<Lifecycle::PlacedSlot> slots;
      for (const sched::SlotRef& slot : placement.ranks) {
        slots.push_back({slot.worker_id, slot.slot, gpu_names[{slot.worker_id, slot.slot}]});
        busy.emplace(slot.worker_id, slot.slot);
      }
      lifecycle_.place(*queued_by_id.at(placement.job_id), slots, now_ms);
    }
    for (const sched::PendingJob& pending : decision.pending) {
      JobRecord& record = *queued_by_id.at(pending.job_id);
      const v1::PendingReason reason = to_proto(pending.reason);
      ++snapshot.pending_by_reason[reason];
      if (record.job.reason() == reason && record.job.queue_position() == pending.position)
        continue;
      record.job.set_reason(reason);
      record.job.set_queue_position(pending.position);
      jobs_.update(record);
    }

    snapshot.jobs_by_state = jobs_.count_by_state();
    for (const auto* records : {&placed_records, &queued_records})
      for (const JobRecord& record : *records)
        snapshot.attempts[record.job.id()] = record.job.attempt();
  });
  return snapshot;
}

}  // namespace gradpool
