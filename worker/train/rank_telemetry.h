// RankTelemetry: what one rank shows of itself beyond its report fd — a Chrome trace of its steps
// (gradpool-train --timeline FILE) and, for a rank that no worker watches (mpirun/srun), its own
// Prometheus endpoint (--metrics-listen HOST:PORT) serving the series of its own report events
// (docs/metrics.md). Both need the metrics library (common/metrics), which only a build with the
// service libraries has; without it, asking for either is an error that says so. The Trainer
// owns one per run.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "worker/train/device_stats.h"
#include "worker/train/step_phase.h"

namespace gradpool {

struct TelemetryOptions {
  std::string timeline;        // trace file, every "{rank}" replaced by the rank; empty: none
  std::string metrics_listen;  // HOST:PORT; empty or "off": none
};

class RankTelemetry {
 public:
  // Opens the timeline and serves /metrics, the series labelled job_id=`job_id`, rank=`rank`,
  // and gradpool_job_gpu_info saying that it runs on `device` of this host. A rank started by
  // mpirun/srun serves on PORT + its local rank (`local_rank`), so that the ranks of one node
  // need one flag. Error naming the flag when the file cannot be written, the address cannot be
  // served, or this build has no metrics library.
  RankTelemetry(const TelemetryOptions& options, const std::string& job_id, int rank,
                int local_rank, const DeviceIdentity& device);
  ~RankTelemetry();
  RankTelemetry(const RankTelemetry&) = delete;
  RankTelemetry& operator=(const RankTelemetry&) = delete;

  bool timeline_enabled() const;
  bool metrics_enabled() const;
  // Adds a phase to the timeline, if there is one.
  void record(StepPhase phase, PhaseClock::time_point start, PhaseClock::time_point end,
              const nlohmann::json& args = nullptr);
  // Applies one of this rank's report events (docs/service.md) to its /metrics, if served.
  void event(const nlohmann::json& event);
  // Ends the timeline's file; Error naming it when a write failed.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gradpool
