// The acceptance test of the pool's observability: Debian's Prometheus, run with the shipped
// deploy/prometheus files, scrapes a real coordinator, finds its worker through /sd/workers and
// records a real 2-rank job as the worker relays it from the ranks' report events; promtool
// accepts the /metrics of both daemons as they serve it during the run.
#include <fstream>
#include <string>

#include "tests/observability/prometheus_server.h"
#include "tests/service/service_fixture.h"

namespace gradpool::testing {
namespace {

using nlohmann::json;

class ServicePrometheusTest : public ServiceTest {
 protected:
  // The port a daemon wrote to `file` (atomically, once it serves); 0 after 30 s without one.
  static uint16_t read_port(const fs::path& file) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      if (fs::exists(file)) return static_cast<uint16_t>(std::stoi(read_file(file.string())));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }

  // A worker with `slots` CPU slots serving its ranks' /metrics on a free port; returns the port.
  uint16_t start_worker_serving_metrics(const std::string& id, int slots) {
    const fs::path port_file = dir_ / ("worker-" + id + ".metrics-port");
    start_worker(id, slots,
                 {"--metrics-listen", "127.0.0.1:0", "--metrics-port-file", port_file.string()});
    return read_port(port_file);
  }

  // promtool check metrics on what `port` serves at /metrics.
  void expect_promtool_accepts(uint16_t port, const std::string& tag) {
    const auto promtool = find_promtool();
    if (!promtool) return;  // Debian's prometheus package ships it beside prometheus
    const HttpReply reply = http_request(port, "/metrics");
    ASSERT_EQ(reply.status, 200) << tag;
    const fs::path file = dir_ / (tag + ".metrics.txt");
    write_file_atomic(file.string(), reply.body);
    const CommandResult check =
        run_command(promtool->string() + " check metrics < '" + file.string() + "'");
    EXPECT_EQ(check.exit_code, 0) << tag << ": " << check.output << "\n" << reply.body;
  }
};

// The value of the single sample in an instant query's `result`; -1 when there is none.
double value_of(const json& result) {
  return result.size() == 1 ? std::stod(result[0]["value"][1].get<std::string>()) : -1;
}

TEST_F(ServicePrometheusTest, PrometheusRecordsAJobThroughTheShippedConfig) {
  if (!PrometheusServer::installed())
    GTEST_SKIP() << PrometheusServer::kBinary << " is not installed";
  const fs::path coordinator_port_file = dir_ / "coordinator.metrics-port";
  start_coordinator({"--metrics-port-file", coordinator_port_file.string()});
  const uint16_t coordinator_metrics = read_port(coordinator_port_file);
  ASSERT_NE(coordinator_metrics, 0) << logs_of_processes();
  const uint16_t worker_metrics = start_worker_serving_metrics("node-a", 2);
  ASSERT_NE(worker_metrics, 0) << logs_of_processes();
  wait_for_workers(1);
  PrometheusServer prometheus(dir_ / "prometheus",
                              "127.0.0.1:" + std::to_string(coordinator_metrics));

  constexpr int kSteps = 8;
  const fs::path output = dir_ / "out";
  const uint64_t id = submit_ok(admin_token_, job_spec("observed", 2, kSteps, output.string()));
  const std::string job_id = std::to_string(id);
  // Both daemons' /metrics while the job's series are there.
  const auto deadline = Clock::now() + kJobDeadline;
  while (http_request(worker_metrics, "/metrics").body.find("job_id=\"" + job_id + "\"") ==
         std::string::npos) {
    ASSERT_LT(Clock::now(), deadline) << "the worker never served the job's series\n"
                                      << logs_of_processes();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  expect_promtool_accepts(coordinator_metrics, "coordinator");
  expect_promtool_accepts(worker_metrics, "worker");
  wait_for_state(id, v1::JOB_SUCCEEDED);

  // Each rank's label tokens, summed over the ranks, are the job's: what train_log.jsonl says.
  int64_t label_tokens = 0;
  std::ifstream log(output / "train_log.jsonl");
  for (std::string line; std::getline(log, line);)
    label_tokens += json::parse(line).at("label_tokens").get<int64_t>();
  ASSERT_GT(label_tokens, 0);
  const json tokens = prometheus.query_until(
      "sum(gradpool_train_tokens_total{job_id=\"" + job_id + "\"})",
      [&](const json& result) { return value_of(result) == static_cast<double>(label_tokens); });
  EXPECT_EQ(value_of(tokens), static_cast<double>(label_tokens))
      << tokens << "\n"
      << prometheus.output() << logs_of_processes();

  const json steps = prometheus.query_until(
      "gradpool_train_step_seconds_count{job_id=\"" + job_id + "\"}", [](const json& result) {
        return result.size() == 2 && value_of(json::array({result[0]})) == kSteps &&
               value_of(json::array({result[1]})) == kSteps;
      });
  ASSERT_EQ(steps.size(), 2u) << steps << "\n" << prometheus.output();
  for (const json& rank : steps) {
    EXPECT_EQ(rank["value"][1], std::to_string(kSteps)) << rank;
    EXPECT_EQ(rank["metric"]["job"], "gradpool-workers") << rank;
    EXPECT_EQ(rank["metric"]["worker"], "node-a") << rank;  // the label /sd/workers gave
  }

  const json succeeded =
      prometheus.query_until("gradpool_jobs{state=\"succeeded\"}",
                             [](const json& result) { return value_of(result) >= 1; });
  EXPECT_GE(value_of(succeeded), 1) << succeeded << "\n" << prometheus.output();
  EXPECT_TRUE(prometheus.stop());
}

}  // namespace
}  // namespace gradpool::testing
