// The metrics catalog: every metric gradpool exports — name, type, help, label names, histogram
// buckets and which processes produce it. It is the single source of truth: MetricsServer and
// RankMetrics create families only from it, the tests check its names against Prometheus'
// conventions, and the shipped dashboard and rules may only name what it lists (docs/metrics.md).
//
// Label conventions: `job_id` (not `job`, which Prometheus itself sets on every scraped series to
// the scrape job's name), `rank`, `worker`; `UUID` is spelled as NVIDIA's DCGM exporter spells
// it so that PromQL joins DCGM series to jobs on(UUID) without relabelling.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gradpool::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// The processes that export metrics; a spec names those that may export it (a bit set).
enum class Component : unsigned { kCoordinator = 1, kWorker = 2, kTrainer = 4 };

// "coordinator", "worker", "trainer": the value of gradpool_build_info's `component` label.
std::string_view component_name(Component component);
std::string_view type_name(MetricType type);  // "counter", "gauge", "histogram"

struct MetricSpec {
  std::string name;
  MetricType type;
  std::string help;
  std::vector<std::string> labels;  // exactly these label names on every series
  std::vector<double> buckets;      // upper bounds, histograms only
  unsigned components;              // bit set of Component

  bool produced_by(Component component) const {
    return (components & static_cast<unsigned>(component)) != 0;
  }
};

// Every metric, grouped: the pool (coordinator), the per-rank training series (worker, relayed
// from rank report events, or a trainer serving its own port), then the metadata series.
const std::vector<MetricSpec>& catalog();

// The spec named `name`; Error naming it when the catalog has no such metric.
const MetricSpec& find_metric(std::string_view name);

}  // namespace gradpool::metrics
