// RankTelemetry in a gradpool-train built without the service libraries (no prometheus-cpp, so no
// common/metrics): a run that asks for a timeline or /metrics is refused up front.
#include "common/error.h"
#include "worker/train/rank_telemetry.h"

namespace gradpool {

struct RankTelemetry::Impl {};

RankTelemetry::RankTelemetry(const TelemetryOptions& options, const std::string& job_id, int rank,
                             int local_rank, const DeviceIdentity& device) {
  const char* why =
      "this gradpool-train was built without the service libraries (prometheus-cpp, gRPC); "
      "rebuild with them to use it";
  if (!options.timeline.empty()) fail("--timeline: {}", why);
  if (!options.metrics_listen.empty() && options.metrics_listen != "off")
    fail("--metrics-listen: {}", why);
}

RankTelemetry::~RankTelemetry() = default;

bool RankTelemetry::timeline_enabled() const {
  return false;
}

bool RankTelemetry::metrics_enabled() const {
  return false;
}

void RankTelemetry::record(StepPhase, PhaseClock::time_point, PhaseClock::time_point,
                           const nlohmann::json&) {}

void RankTelemetry::event(const nlohmann::json&) {}

void RankTelemetry::close() {}

}  // namespace gradpool
