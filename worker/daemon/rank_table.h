// RankTable: every rank this worker knows — being prepared, running, or exited and not yet
// forgotten by the coordinator — keyed by (job, attempt, rank). The coordinator client drives it
// from heartbeat responses (start, stop, forget) and reports from it. Starting a rank prepares its
// work directory <cache>/jobs/<job>/attempt-<a>/rank-<r>/: the dataset from the shard cache,
// spec.yaml pointing at it, then gradpool-train (rank_launcher.h). With a RankMetricsRelay, the
// ranks' report events and placements also become Prometheus series. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "proto/gradpool.pb.h"
#include "worker/daemon/rank_launcher.h"
#include "worker/daemon/rank_metrics_relay.h"
#include "worker/daemon/rank_process.h"
#include "worker/daemon/shard_cache.h"
#include "worker/daemon/slots.h"

namespace gradpool {

class RankTable {
 public:
  // `cache` fetches registered datasets; it and `metrics` (none: null) must outlive the table.
  RankTable(LaunchSettings launch, std::string cache_dir, std::vector<Slot> slots,
            ShardCache& cache, RankMetricsRelay* metrics = nullptr);
  ~RankTable();  // kills ranks still running (see RankProcess)

  // Starts the assigned rank unless this (job, attempt, rank) is known already. Whatever goes
  // wrong shows up in its report as an exited rank with a message.
  void start(const v1::RankAssignment& assignment);
  // Stops a known rank (SIGTERM, SIGKILL after `grace`); unknown ones are ignored.
  void stop(const v1::RankRef& ref, std::chrono::milliseconds grace);
  // Drops an exited rank from the reports; a running one is kept (and logged).
  void forget(const v1::RankRef& ref);

  // The reports of one heartbeat, and how far each one's log went.
  struct Reports {
    std::vector<v1::RankReport> reports;
    std::vector<std::pair<std::shared_ptr<RankProcess>, RankProcess::LogMark>> marks;
  };
  Reports reports() const;
  // The coordinator has `sent`: their logs need not be sent again.
  void delivered(const Reports& sent);

  // Stops every rank (SIGTERM, SIGKILL after `grace`) and waits until all have exited.
  void stop_all(std::chrono::milliseconds grace);

  size_t running() const;  // prepared or running, not exited

 private:
  using Key = std::tuple<uint64_t, int, int>;  // job, attempt, rank
  static Key key_of(const v1::RankRef& ref) { return {ref.job_id(), ref.attempt(), ref.rank()}; }
  // Runs on the rank's own thread: work directory, dataset, spec.yaml → the command.
  RankCommand prepare(const v1::RankAssignment& assignment) const;

  const LaunchSettings launch_;
  const std::string cache_dir_;
  const std::vector<Slot> slots_;
  ShardCache& cache_;
  RankMetricsRelay* const metrics_;
  mutable std::mutex mutex_;
  std::map<Key, std::shared_ptr<RankProcess>> ranks_;
};

}  // namespace gradpool
