// Lifecycle: the job state machine of docs/service.md ("Job lifecycle"). Every transition of a job
// or a rank goes through here: submit, placement, rank running/exited/lost, failure → requeue or
// FAILED, success, cancel, and the usage a placed job accrues. It writes the store and the
// "[gradpool]" lines of the job's log; it never talks to workers (the heartbeat reconciler turns
// rank states into start/stop messages) and never decides placements (the scheduling loop does).
//
// Methods that take a JobRecord& change it and the store, and must run inside the caller's
// Database::transaction(); submit() and cancel() open their own. The restarts, failures and queue
// waits it decides go to PoolMetrics once that transaction commits.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/auth/token_store.h"
#include "coordinator/jobs/job_logs.h"
#include "coordinator/jobs/submission.h"
#include "coordinator/pool_metrics.h"
#include "coordinator/scheduler/scheduler.h"
#include "coordinator/store/database.h"
#include "coordinator/store/job_store.h"
#include "coordinator/store/rank_store.h"
#include "coordinator/store/usage_store.h"

namespace gradpool {

class Lifecycle {
 public:
  // `slots_changed` is called (inside the transaction) whenever a scheduling pass could now
  // decide differently: a job was submitted, requeued, cancelled or finished.
  Lifecycle(Database& db, JobStore& jobs, RankStore& ranks, UsageStore& usage, JobLogs& logs,
            PoolMetrics& metrics, std::function<void()> slots_changed);

  // Inserts the prepared jobs in one transaction (an array shares the first job's id as
  // array_id) and returns them as stored: QUEUED.
  std::vector<v1::Job> submit(const std::vector<PreparedJob>& jobs, const std::string& output_root);
  // Owner or admin (PERMISSION_DENIED otherwise); FAILED_PRECONDITION when already final.
  v1::Job cancel(uint64_t job_id, const Caller& caller, int64_t now_ms);

  // The job with the ranks of its current attempt; NOT_FOUND as RpcError.
  v1::Job get(uint64_t job_id) const;
  std::vector<v1::Job> list(const JobFilter& filter) const;

  // Starts the next attempt of a QUEUED job on `slots` (rank r on slots[r]).
  struct PlacedSlot {
    std::string worker_id;
    int slot = 0;
    std::string gpu_name;
  };
  void place(JobRecord& job, const std::vector<PlacedSlot>& slots, int64_t now_ms);

  // Rank transitions reported by (or concluded about) its worker. `job` is the rank's job.
  void rank_running(JobRecord& job, RankRecord& rank, int64_t now_ms);
  void rank_exited(JobRecord& job, RankRecord& rank, int exit_code, const std::string& message,
                   int64_t now_ms);
  void rank_lost(JobRecord& job, RankRecord& rank, const std::string& why, int64_t now_ms);
  // The current attempt cannot go on (`why` starts with "attempt N: "): requeue or FAILED.
  void fail_attempt(JobRecord& job, const std::string& why, AttemptFailure reason, int64_t now_ms);
  // Rank 0's figures; the checkpoint step only moves forward.
  void record_progress(JobRecord& job, const v1::Progress& progress, int64_t now_ms);

  // Adds gpus × seconds since the last call to the owner's usage while the job is placed.
  void account_usage(JobRecord& job, int64_t now_ms);

  // Whether `rank` belongs to the attempt its job is running now (its ranks should be alive).
  static bool is_current(const JobRecord& job, const RankRecord& rank);

 private:
  v1::Job describe(const JobRecord& record) const;
  void finish(JobRecord& job, v1::JobState state, const std::string& message, int64_t now_ms);
  // STARTING → RUNNING once every rank is running (or already done with exit 0).
  void update_attempt_state(JobRecord& job, int64_t now_ms);

  Database& db_;
  JobStore& jobs_;
  RankStore& ranks_;
  UsageStore& usage_;
  JobLogs& logs_;
  PoolMetrics& metrics_;
  std::function<void()> slots_changed_;
};

}  // namespace gradpool
