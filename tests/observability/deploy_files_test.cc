// The shipped Prometheus and Grafana files: promtool accepts the config and the rules, and every
// query in the rules and the dashboard names only metrics the code exports (the catalog, with a
// histogram's _bucket/_sum/_count series) or recording rules of rules.yml.
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/metrics/metrics_catalog.h"
#include "tests/observability/http_and_tools.h"

namespace gradpool::metrics {
namespace {

using nlohmann::json;
using testing::source_path;

const char* kConfig = "deploy/prometheus/prometheus.yml";
const char* kRules = "deploy/prometheus/rules.yml";
const char* kDashboard = "deploy/grafana/gradpool-dashboard.json";

void expect_promtool_passes(const std::string& check, const char* file) {
  const auto promtool = testing::find_promtool();
  if (!promtool) GTEST_SKIP() << "promtool is not installed (Debian: prometheus)";
  const auto result = testing::run_command(promtool->string() + " check " + check + " '" +
                                           source_path(file).string() + "'");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("SUCCESS"), std::string::npos) << result.output;
}

TEST(DeployFiles, PromtoolAcceptsThePrometheusConfig) {
  expect_promtool_passes("config", kConfig);
}

TEST(DeployFiles, PromtoolAcceptsTheRules) {
  expect_promtool_passes("rules", kRules);
}

struct Rules {
  std::set<std::string> recorded;    // names of the recording rules
  std::vector<std::string> queries;  // every rule's expr
};

Rules read_rules() {
  Rules rules;
  const YAML::Node root = YAML::LoadFile(source_path(kRules).string());
  for (const YAML::Node& group : root["groups"])
    for (const YAML::Node& rule : group["rules"]) {
      if (rule["record"]) rules.recorded.insert(rule["record"].as<std::string>());
      rules.queries.push_back(rule["expr"].as<std::string>());
    }
  return rules;
}

// Every panel's query (rows nest panels) and every templating query of a Grafana dashboard.
void collect_queries(const json& panels, std::vector<std::string>& queries) {
  for (const json& panel : panels) {
    for (const json& target : panel.value("targets", json::array()))
      if (target.contains("expr")) queries.push_back(target["expr"]);
    collect_queries(panel.value("panels", json::array()), queries);
  }
}

// The metric names `query` uses that the code does not export: identifiers with "gradpool_" in
// them that are neither recording rules nor catalog metrics (or a histogram's series).
std::vector<std::string> unknown_metrics(const std::string& query,
                                         const std::set<std::string>& recorded) {
  std::set<std::string> exported;
  for (const MetricSpec& spec : catalog()) {
    exported.insert(spec.name);
    if (spec.type == MetricType::kHistogram)
      for (const char* suffix : {"_bucket", "_sum", "_count"}) exported.insert(spec.name + suffix);
  }
  std::vector<std::string> unknown;
  const std::regex identifier("[A-Za-z_:][A-Za-z0-9_:]*");
  for (auto it = std::sregex_iterator(query.begin(), query.end(), identifier);
       it != std::sregex_iterator(); ++it) {
    const std::string name = it->str();
    if (name.find("gradpool_") == std::string::npos) continue;
    if (!recorded.count(name) && !exported.count(name)) unknown.push_back(name);
  }
  return unknown;
}

TEST(DeployFiles, RulesNameOnlyExportedMetrics) {
  const Rules rules = read_rules();
  EXPECT_GE(rules.recorded.size(), 4u);
  ASSERT_GT(rules.queries.size(), rules.recorded.size()) << "no alerts";
  for (const std::string& query : rules.queries)
    EXPECT_EQ(unknown_metrics(query, {}), std::vector<std::string>()) << query;
}

TEST(DeployFiles, DashboardParsesAndNamesOnlyExportedMetrics) {
  const json dashboard = json::parse(read_file(source_path(kDashboard).string()));
  std::vector<std::string> queries;
  collect_queries(dashboard.at("panels"), queries);
  for (const json& variable : dashboard.at("templating").at("list"))
    if (variable.value("type", "") == "query") queries.push_back(variable.at("query"));
  ASSERT_GE(queries.size(), 20u);

  const std::set<std::string> recorded = read_rules().recorded;
  std::string all;
  for (const std::string& query : queries) {
    EXPECT_EQ(unknown_metrics(query, recorded), std::vector<std::string>()) << query;
    all += query + "\n";
  }
  // What the dashboard is for: utilisation, the queue, per-job throughput, loss, step times.
  for (const char* needed :
       {"pool:gradpool_gpu_utilisation:ratio", "gradpool_gpus", "gradpool_jobs_pending",
        "pool:gradpool_queue_wait_seconds:p95_1h", "job_id:gradpool_train_tokens_per_second:sum",
        "gradpool_train_loss", "job_id:gradpool_train_allreduce_seconds:mean5m",
        "gradpool_train_checkpoint_seconds_sum", "gradpool_train_gpu_memory_peak_bytes",
        "gradpool_train_mfu_ratio", "$job_id"})
    EXPECT_NE(all.find(needed), std::string::npos) << needed;
}

TEST(DeployFiles, DashboardPanelsHaveUniqueIdsAndUseTheDatasourceVariable) {
  const json dashboard = json::parse(read_file(source_path(kDashboard).string()));
  std::set<int> ids;
  for (const json& panel : dashboard.at("panels")) {
    EXPECT_TRUE(ids.insert(panel.at("id").get<int>()).second) << panel.at("title");
    if (panel.at("type") != "row") {
      EXPECT_EQ(panel.at("datasource").at("uid"), "${datasource}") << panel.at("title");
    }
  }
}

}  // namespace
}  // namespace gradpool::metrics
