#include "worker/train/rank_telemetry.h"

#include <unistd.h>

#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/metrics/metrics_server.h"
#include "common/metrics/rank_metrics.h"
#include "common/metrics/timeline.h"

namespace gradpool {
namespace {

std::string_view phase_name(StepPhase phase) {
  switch (phase) {
    case StepPhase::kStep:
      return metrics::phase::kStep;
    case StepPhase::kDataWait:
      return metrics::phase::kDataWait;
    case StepPhase::kForward:
      return metrics::phase::kForward;
    case StepPhase::kBackward:
      return metrics::phase::kBackward;
    case StepPhase::kAllReduce:
      return metrics::phase::kAllReduce;
    case StepPhase::kOptimizer:
      return metrics::phase::kOptimizer;
    case StepPhase::kCheckpoint:
      return metrics::phase::kCheckpoint;
  }
  return "?";
}

std::string with_rank(std::string pattern, int rank) {
  const std::string placeholder = "{rank}", value = std::to_string(rank);
  for (size_t at = pattern.find(placeholder); at != std::string::npos;
       at = pattern.find(placeholder, at + value.size()))
    pattern.replace(at, placeholder.size(), value);
  return pattern;
}

// HOST:PORT with PORT + `offset` (a port of 0 stays 0: each rank picks its own).
std::string offset_port(const std::string& listen, int offset) {
  const size_t colon = listen.rfind(':');
  if (offset == 0 || colon == std::string::npos) return listen;  // MetricsServer names the error
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    return listen;
  }
  return port == 0 ? listen : listen.substr(0, colon + 1) + std::to_string(port + offset);
}

std::string this_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || !name[0]) return "localhost";
  return name;
}

}  // namespace

struct RankTelemetry::Impl {
  std::string job_id;
  int rank = 0;
  std::unique_ptr<metrics::Timeline> timeline;
  std::unique_ptr<metrics::MetricsServer> server;
  std::unique_ptr<metrics::RankMetrics> series;
};

RankTelemetry::RankTelemetry(const TelemetryOptions& options, const std::string& job_id, int rank,
                             int local_rank, const DeviceIdentity& device)
    : impl_(std::make_unique<Impl>()) {
  impl_->job_id = job_id;
  impl_->rank = rank;
  if (!options.timeline.empty()) {
    const std::filesystem::path path = with_rank(options.timeline, rank);
    std::error_code ignored;  // the Timeline names the flag and path if it still cannot write
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ignored);
    impl_->timeline = std::make_unique<metrics::Timeline>(path, rank);
  }
  if (!options.metrics_listen.empty() && options.metrics_listen != "off") {
    const std::string listen = offset_port(options.metrics_listen, local_rank);
    try {
      impl_->server =
          std::make_unique<metrics::MetricsServer>(listen, metrics::Component::kTrainer);
    } catch (const Error& e) {
      fail("--metrics-listen: {}", e.what());
    }
    impl_->series = std::make_unique<metrics::RankMetrics>(impl_->server->registry(),
                                                           metrics::Component::kTrainer);
    const std::string hostname = this_hostname();
    // No worker runs this rank: its host stands in for the worker's id.
    impl_->series->set_placement(job_id, rank,
                                 {hostname, hostname, device.index, device.name, device.uuid});
    spdlog::info("rank {}: serving /metrics on {}", rank, impl_->server->address());
  }
}

RankTelemetry::~RankTelemetry() = default;

bool RankTelemetry::timeline_enabled() const {
  return impl_->timeline != nullptr;
}

bool RankTelemetry::metrics_enabled() const {
  return impl_->series != nullptr;
}

void RankTelemetry::record(StepPhase phase, PhaseClock::time_point start,
                           PhaseClock::time_point end, const nlohmann::json& args) {
  if (impl_->timeline) impl_->timeline->record(phase_name(phase), start, end, args);
}

void RankTelemetry::event(const nlohmann::json& event) {
  if (impl_->series) impl_->series->apply(impl_->job_id, impl_->rank, event);
}

void RankTelemetry::close() {
  if (impl_->timeline) impl_->timeline->close();
}

}  // namespace gradpool
