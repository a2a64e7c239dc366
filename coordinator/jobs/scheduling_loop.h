// SchedulingLoop: the thread that runs a scheduling pass every --schedule-interval-ms and whenever
// it is woken (a submit, an exit, a cancel). A pass first runs `before_pass` (the worker leases
// expire there), then, in one transaction: accounts the usage of placed jobs, snapshots the pool
// (up workers, busy slots), the queue and the decayed usage, calls sched::schedule() and applies
// its Decision — placements through the Lifecycle, reasons and queue positions on the rows. Once
// committed, the pool as the pass left it goes to PoolMetrics, with the pass's duration.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "coordinator/jobs/lifecycle.h"
#include "coordinator/pool_metrics.h"
#include "coordinator/scheduler/scheduler.h"
#include "coordinator/store/worker_store.h"

namespace gradpool {

class SchedulingLoop {
 public:
  SchedulingLoop(Database& db, JobStore& jobs, RankStore& ranks, WorkerStore& workers,
                 UsageStore& usage, Lifecycle& lifecycle, PoolMetrics& metrics,
                 const sched::Policy& policy, std::chrono::milliseconds interval,
                 std::function<void(int64_t now_ms)> before_pass);
  ~SchedulingLoop();  // stops the thread

  void start();
  void stop();
  // Runs a pass soon (coalesced: many wakes before the pass make one pass).
  void wake();

 private:
  void run();
  // Returns the pool as the pass left it.
  PoolMetrics::PoolSnapshot pass(int64_t now_ms);

  Database& db_;
  JobStore& jobs_;
  RankStore& ranks_;
  WorkerStore& workers_;
  UsageStore& usage_;
  Lifecycle& lifecycle_;
  PoolMetrics& metrics_;
  const sched::Policy& policy_;
  std::chrono::milliseconds interval_;
  std::function<void(int64_t)> before_pass_;

  std::mutex mutex_;
  std::condition_variable wakeup_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace gradpool
