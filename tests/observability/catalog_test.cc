// The metrics catalog follows Prometheus' naming conventions, has no duplicate or colliding
// names, and docs/metrics.md lists every metric in it.
#include <algorithm>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/file_util.h"
#include "common/metrics/metrics_catalog.h"
#include "tests/observability/http_and_tools.h"

namespace gradpool::metrics {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TEST(MetricsCatalog, NamesFollowPrometheusConventions) {
  const std::regex name_pattern("gradpool_[a-z][a-z0-9]*(_[a-z0-9]+)*");
  // Not base units, or abbreviations of them: Prometheus wants seconds and bytes.
  const std::regex non_base_unit(
      "_(milliseconds|microseconds|nanoseconds|minutes|hours|ms|us|ns|"
      "sec|secs|kb|mb|gb|kib|mib|gib|kilobytes|megabytes|percent)(_|$)");
  ASSERT_FALSE(catalog().empty());
  for (const MetricSpec& spec : catalog()) {
    SCOPED_TRACE(spec.name);
    EXPECT_TRUE(std::regex_match(spec.name, name_pattern));
    EXPECT_FALSE(std::regex_search(spec.name, non_base_unit));
    EXPECT_EQ(ends_with(spec.name, "_total"), spec.type == MetricType::kCounter)
        << "counters, and only counters, end in _total";
    if (ends_with(spec.name, "_info")) {
      EXPECT_EQ(spec.type, MetricType::kGauge) << "_info series are gauges of value 1";
      EXPECT_FALSE(spec.labels.empty()) << "an _info series carries its information in labels";
    }
    if (spec.type == MetricType::kHistogram) {
      EXPECT_TRUE(ends_with(spec.name, "_seconds") || ends_with(spec.name, "_bytes"))
          << "histograms measure a base unit";
      ASSERT_FALSE(spec.buckets.empty());
      EXPECT_TRUE(std::is_sorted(spec.buckets.begin(), spec.buckets.end()));
      EXPECT_EQ(std::adjacent_find(spec.buckets.begin(), spec.buckets.end()), spec.buckets.end());
      EXPECT_GT(spec.buckets.front(), 0);
    } else {
      EXPECT_TRUE(spec.buckets.empty());
    }
    for (const char* reserved : {"_bucket", "_sum", "_count"})
      EXPECT_FALSE(ends_with(spec.name, reserved)) << "a histogram's series suffix";
    EXPECT_FALSE(spec.help.empty());
    EXPECT_EQ(spec.help.back(), '.');
    EXPECT_NE(spec.components, 0u);
  }
}

TEST(MetricsCatalog, LabelsAreValidAndDoNotCollideWithPrometheusOwn) {
  const std::regex label_pattern("[a-zA-Z][a-zA-Z0-9_]*");
  for (const MetricSpec& spec : catalog()) {
    SCOPED_TRACE(spec.name);
    std::set<std::string> seen;
    for (const std::string& label : spec.labels) {
      EXPECT_TRUE(std::regex_match(label, label_pattern)) << label;
      EXPECT_TRUE(seen.insert(label).second) << "duplicate label " << label;
      // Prometheus sets job and instance on every scraped series (a `job` of ours would become
      // exported_job); le and quantile belong to histograms and summaries.
      for (const char* reserved : {"job", "instance", "le", "quantile"}) EXPECT_NE(label, reserved);
    }
  }
}

TEST(MetricsCatalog, NamesAreUniqueAndNoSeriesNameCollides) {
  std::set<std::string> series;
  for (const MetricSpec& spec : catalog()) {
    std::vector<std::string> names = {spec.name};
    if (spec.type == MetricType::kHistogram)
      names = {spec.name + "_bucket", spec.name + "_sum", spec.name + "_count", spec.name};
    for (const std::string& name : names) EXPECT_TRUE(series.insert(name).second) << name;
  }
}

TEST(MetricsCatalog, TrainingSeriesArePerJobAndRankAndRelayedByWorkersAndTrainers) {
  int training = 0;
  for (const MetricSpec& spec : catalog()) {
    if (spec.name.rfind("gradpool_train_", 0) != 0) continue;
    SCOPED_TRACE(spec.name);
    ++training;
    EXPECT_EQ(spec.labels, (std::vector<std::string>{"job_id", "rank"}));
    EXPECT_TRUE(spec.produced_by(Component::kWorker));
    EXPECT_TRUE(spec.produced_by(Component::kTrainer));
    EXPECT_FALSE(spec.produced_by(Component::kCoordinator));
  }
  EXPECT_GE(training, 10);
}

TEST(MetricsCatalog, GpuInfoJoinsDcgmOnItsUuidLabel) {
  const MetricSpec& info = find_metric("gradpool_job_gpu_info");
  for (const char* label : {"job_id", "rank", "worker", "UUID"})
    EXPECT_NE(std::find(info.labels.begin(), info.labels.end(), label), info.labels.end()) << label;
}

TEST(MetricsCatalog, FindMetricNamesWhatIsMissing) {
  EXPECT_EQ(find_metric("gradpool_jobs").type, MetricType::kGauge);
  try {
    find_metric("gradpool_jobz");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'gradpool_jobz'"), std::string::npos) << e.what();
  }
}

TEST(MetricsCatalog, DocsListEveryMetric) {
  const std::string docs = read_file(testing::source_path("docs/metrics.md").string());
  for (const MetricSpec& spec : catalog())
    EXPECT_NE(docs.find("`" + spec.name + "`"), std::string::npos)
        << spec.name << " is missing from docs/metrics.md";
}

}  // namespace
}  // namespace gradpool::metrics
