// WorkerRegistry: the Workers API's logic. Register records a worker (and re-adopts the ranks it
// still runs), Heartbeat renews its lease and reconciles its ranks, List shows the pool with busy
// slots. A worker whose lease runs out becomes WORKER_LOST and its live ranks LOST, which fails
// their jobs' attempts (requeue or FAILED). All of it is committed before the reply.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "coordinator/store/worker_store.h"
#include "coordinator/workers/lease_table.h"
#include "coordinator/workers/rank_reconciler.h"

namespace gradpool {

struct WorkerTimings {
  std::chrono::milliseconds lease_timeout{10000};
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds stop_grace{30000};
};

class WorkerRegistry {
 public:
  // Gives every worker the store has UP a fresh lease: a restarted coordinator keeps its pool.
  WorkerRegistry(Database& db, WorkerStore& workers, RankStore& ranks, JobStore& jobs,
                 Lifecycle& lifecycle, RankReconciler& reconciler, WorkerTimings timings);

  // Errors (Error → INVALID_ARGUMENT) name the request field.
  v1::RegisterResponse register_worker(const v1::RegisterRequest& request);
  v1::HeartbeatResponse heartbeat(const v1::HeartbeatRequest& request);
  std::vector<v1::Worker> list() const;

  // Marks workers whose lease ran out LOST, and their live ranks LOST.
  void expire_leases(int64_t now_ms);

 private:
  Database& db_;
  WorkerStore& workers_;
  RankStore& ranks_;
  JobStore& jobs_;
  Lifecycle& lifecycle_;
  RankReconciler& reconciler_;
  WorkerTimings timings_;
  LeaseTable leases_;
};

}  // namespace gradpool
