#include "coordinator/jobs/lifecycle.h"

#include <algorithm>

#include <fmt/format.h>

#include "coordinator/rendezvous/attempt_token.h"
#include "coordinator/rpc_error.h"

namespace gradpool {
namespace {

const char* state_name(v1::JobState state) {
  // "JOB_SUCCEEDED" → "SUCCEEDED"
  return v1::JobState_Name(state).c_str() + 4;
}

}  // namespace

Lifecycle::Lifecycle(Database& db, JobStore& jobs, RankStore& ranks, UsageStore& usage,
                     JobLogs& logs, PoolMetrics& metrics, std::function<void()> slots_changed)
    : db_(db),
      jobs_(jobs),
      ranks_(ranks),
      usage_(usage),
      logs_(logs),
      metrics_(metrics),
      slots_changed_(std::move(slots_changed)) {}

bool Lifecycle::is_current(const JobRecord& job, const RankRecord& rank) {
  return is_placed(job.job.state()) && rank.attempt == job.job.attempt();
}

std::vector<v1::Job> Lifecycle::submit(const std::vector<PreparedJob>& prepared,
                                       const std::string& output_root) {
  std::vector<JobRecord> stored;
  db_.transaction([&] {
    uint64_t array_id = 0;
    for (const PreparedJob& job : prepared) {
      const uint64_t id = jobs_.insert(job.record);
      if (prepared.size() > 1 && array_id == 0) array_id = id;
      stored.push_back(job.finalize(id, array_id, output_root));
      jobs_.update(stored.back());
    }
    slots_changed_();
  });
  std::vector<v1::Job> result;
  for (const JobRecord& record : stored) {
    const v1::Job& job = record.job;
    logs_.event(job.id(), fmt::format("job {} '{}' submitted by {}: {} GPU(s), output {}", job.id(),
                                      job.name(), job.user(), job.gpus(), job.output()));
    result.push_back(job);
  }
  return result;
}

v1::Job Lifecycle::cancel(uint64_t job_id, const Caller& caller, int64_t now_ms) {
  v1::Job cancelled;
  db_.transaction([&] {
    auto job = jobs_.find(job_id);
    if (!job) rpc_fail(grpc::StatusCode::NOT_FOUND, "job {}: no such job", job_id);
    if (job->job.user() != caller.user && !caller.is_admin())
      rpc_fail(grpc::StatusCode::PERMISSION_DENIED,
               "job {}: only its owner ({}) or an admin may cancel it", job_id, job->job.user());
    if (is_final(job->job.state()))
      rpc_fail(grpc::StatusCode::FAILED_PRECONDITION, "job {}: already {}", job_id,
               state_name(job->job.state()));
    // Its ranks get `stop` with the workers' next heartbeats; their slots stay busy until then.
    finish(*job, v1::JOB_CANCELLED, "cancelled by " + caller.user, now_ms);
    cancelled = describe(*job);
  });
  return cancelled;
}

v1::Job Lifecycle::get(uint64_t job_id) const {
  auto held = db_.lock();  // the row and its ranks from one moment
  const auto job = jobs_.find(job_id);
  if (!job) rpc_fail(grpc::StatusCode::NOT_FOUND, "job {}: no such job", job_id);
  return describe(*job);
}

std::vector<v1::Job> Lifecycle::list(const JobFilter& filter) const {
  auto held = db_.lock();
  std::vector<v1::Job> result;
  for (const JobRecord& record : jobs_.list(filter)) result.push_back(describe(record));
  return result;
}

v1::Job Lifecycle::describe(const JobRecord& record) const {
  v1::Job job = record.job;
  if (job.attempt() > 0)
    for (const RankRecord& rank : ranks_.of_attempt(job.id(), job.attempt()))
      *job.add_ranks() = rank.to_proto();
  return job;
}

void Lifecycle::place(JobRecord& job, const std::vector<PlacedSlot>& slots, int64_t now_ms) {
  v1::Job& row = job.job;
  // 0 for a job requeued before the coordinator kept requeue times: its wait is unknown.
  const int64_t queued_ms = row.attempt() == 0 ? row.submit_ms() : job.requeued_ms;
  if (queued_ms > 0)
    db_.on_commit([this, wait_s = (now_ms - queued_ms) / 1000.0] { metrics_.job_placed(wait_s); });
  row.set_attempt(row.attempt() + 1);
  row.set_state(v1::JOB_STARTING);
  row.set_reason(v1::REASON_NONE);
  row.set_queue_position(0);
  row.set_start_ms(now_ms);
  job.accounted_ms = now_ms;
  job.rendezvous_token = new_attempt_token();
  std::string where;
  for (size_t r = 0; r < slots.size(); ++r) {
    RankRecord rank;
    rank.job_id = row.id();
    rank.attempt = row.attempt();
    rank.rank = static_cast<int>(r);
    rank.worker_id = slots[r].worker_id;
    rank.slot = slots[r].slot;
    rank.gpu_name = slots[r].gpu_name;
    ranks_.insert(rank);
    where += fmt::format("{}rank {} on {} slot {} ({})", r ? ", " : "", r, rank.worker_id,
                         rank.slot, rank.gpu_name);
  }
  jobs_.update(job);
  logs_.event(row.id(), fmt::format("attempt {}: placed {}", row.attempt(), where));
}

void Lifecycle::rank_running(JobRecord& job, RankRecord& rank, int64_t now_ms) {
  rank.state = RankState::kRunning;
  ranks_.update(rank);
  if (is_current(job, rank)) update_attempt_state(job, now_ms);
}

void Lifecycle::rank_exited(JobRecord& job, RankRecord& rank, int exit_code,
                            const std::string& message, int64_t now_ms) {
  const bool current = is_current(job, rank);
  rank.state = RankState::kExited;
  rank.exit_code = exit_code;
  rank.message = message;
  ranks_.update(rank);
  if (!current) {
    // A rank of a cancelled or failed attempt: its slot is free now.
    slots_changed_();
    return;
  }
  if (exit_code != 0) {
    fail_attempt(job,
                 fmt::format("attempt {}: rank {} on {} exited with {}{}", rank.attempt, rank.rank,
                             rank.worker_id, exit_code, message.empty() ? "" : ": " + message),
                 AttemptFailure::kRankFailed, now_ms);
    return;
  }
  update_attempt_state(job, now_ms);
}

void Lifecycle::rank_lost(JobRecord& job, RankRecord& rank, const std::string& why,
                          int64_t now_ms) {
  const bool current = is_current(job, rank);
  rank.state = RankState::kLost;
  rank.message = why;
  ranks_.update(rank);
  if (current)
    fail_attempt(job,
                 fmt::format("attempt {}: rank {} on {} was lost: {}", rank.attempt, rank.rank,
                             rank.worker_id, why),
                 AttemptFailure::kWorkerLost, now_ms);
  else
    slots_changed_();
}

void Lifecycle::update_attempt_state(JobRecord& job, int64_t now_ms) {
  int running = 0;
  int succeeded = 0;
  const auto ranks = ranks_.of_attempt(job.job.id(), job.job.attempt());
  for (const RankRecord& rank : ranks) {
    if (rank.state == RankState::kRunning) ++running;
    if (rank.state == RankState::kExited && rank.exit_code == 0) ++succeeded;
  }
  const int total = static_cast<int>(ranks.size());
  if (succeeded == total) {
    finish(job, v1::JOB_SUCCEEDED, "", now_ms);
  } else if (job.job.state() == v1::JOB_STARTING && running + succeeded == total) {
    job.job.set_state(v1::JOB_RUNNING);
    jobs_.update(job);
    logs_.event(job.job.id(),
                fmt::format("attempt {}: all {} rank(s) running", job.job.attempt(), total));
  }
}

void Lifecycle::fail_attempt(JobRecord& job, const std::string& why, AttemptFailure reason,
                             int64_t now_ms) {
  v1::Job& row = job.job;
  const int restarts_used = row.attempt() - 1;
  if (restarts_used >= row.max_restarts()) {
    finish(job, v1::JOB_FAILED,
           fmt::format("{} (no restarts left: max_restarts is {})", why, row.max_restarts()),
           now_ms);
    db_.on_commit([this, reason] { metrics_.job_failed(reason); });
    return;
  }
  account_usage(job, now_ms);
  job.requeued_ms = now_ms;
  row.set_state(v1::JOB_QUEUED);
  // The scheduler refines the reason on its next pass; until the old ranks are gone it stays.
  row.set_reason(ranks_.live_of_job(row.id()).empty() ? v1::REASON_NONE
                                                      : v1::REASON_STOPPING_PREVIOUS);
  row.set_queue_position(0);
  row.set_message(why);
  jobs_.update(job);
  logs_.event(row.id(), fmt::format("{}; requeued (restart {} of {}), resuming from {}/checkpoints",
                                    why, restarts_used + 1, row.max_restarts(), row.output()));
  db_.on_commit([this, reason] { metrics_.job_restarted(reason); });
  slots_changed_();
}

void Lifecycle::finish(JobRecord& job, v1::JobState state, const std::string& message,
                       int64_t now_ms) {
  account_usage(job, now_ms);
  v1::Job& row = job.job;
  row.set_state(state);
  row.set_reason(v1::REASON_NONE);
  row.set_queue_position(0);
  row.set_end_ms(now_ms);
  if (!message.empty()) row.set_message(message);
  jobs_.update(job);
  if (state == v1::JOB_SUCCEEDED)
    logs_.event(row.id(), fmt::format("attempt {}: every rank exited 0; succeeded, adapter in {}",
                                      row.attempt(), row.output()));
  else
    logs_.event(row.id(), fmt::format("{}: {}", state_name(state), message));
  slots_changed_();
}

void Lifecycle::record_progress(JobRecord& job, const v1::Progress& progress, int64_t now_ms) {
  const int64_t checkpoint =
      std::max(job.job.progress().checkpoint_step(), progress.checkpoint_step());
  *job.job.mutable_progress() = progress;
  job.job.mutable_progress()->set_checkpoint_step(checkpoint);
  job.job.mutable_progress()->set_updated_ms(now_ms);
  jobs_.update(job);
}

void Lifecycle::account_usage(JobRecord& job, int64_t now_ms) {
  if (!is_placed(job.job.state())) return;
  const int64_t elapsed_ms = now_ms - job.accounted_ms;
  if (elapsed_ms <= 0) return;
  usage_.add(job.job.user(), job.job.gpus() * static_cast<double>(elapsed_ms) / 1000.0, now_ms);
  job.accounted_ms = now_ms;
  jobs_.update(job);
}

}  // namespace gradpool
