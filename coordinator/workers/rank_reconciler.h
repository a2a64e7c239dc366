// RankReconciler: compares what a worker says about its ranks (RankReport, in every heartbeat and
// in Register) with what the store says should run there, records the differences through the
// Lifecycle, and answers with what the worker must do:
//   start  — ranks of a current attempt assigned to it that it does not report (sent again until
//            it does; starting is idempotent on the worker);
//   stop   — ranks it reports alive that should not run (attempt failed, job cancelled or
//            requeued, or a rank the store does not know on this worker);
//   forget — exited ranks, once their exit is recorded.
// A rank the store has RUNNING there but the worker no longer reports is LOST (the worker
// restarted). Runs inside the caller's transaction.
#pragma once

#include <cstdint>
#include <string>

#include <google/protobuf/repeated_field.h>

#include "coordinator/datasets/dataset_store.h"
#include "coordinator/jobs/job_logs.h"
#include "coordinator/jobs/lifecycle.h"

namespace gradpool {

class RankReconciler {
 public:
  RankReconciler(JobStore& jobs, RankStore& ranks, Lifecycle& lifecycle, JobLogs& logs,
                 const DatasetStore& datasets);

  // Fills response->start/stop/forget.
  void reconcile(const std::string& worker_id,
                 const google::protobuf::RepeatedPtrField<v1::RankReport>& reports, int64_t now_ms,
                 v1::HeartbeatResponse* response);

 private:
  class Pass;  // one reconciliation, with its cache of job rows

  JobStore& jobs_;
  RankStore& ranks_;
  Lifecycle& lifecycle_;
  JobLogs& logs_;
  const DatasetStore& datasets_;
};

}  // namespace gradpool
