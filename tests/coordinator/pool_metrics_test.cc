// The coordinator's metrics over real HTTP: a Coordinator in-process with its metrics on port 0,
// jobs driven through FakeWorker, /metrics scraped (and checked by promtool), /sd/workers read as
// Prometheus' HTTP service discovery reads it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <sstream>

#include "common/error.h"
#include "common/file_util.h"
#include "tests/coordinator/coordinator_harness.h"
#include "tests/observability/http_and_tools.h"

namespace gradpool::testing {
namespace {

using nlohmann::json;

// The value of the sample `series` (its name and labels as exposed) in `exposition`.
std::optional<double> sample(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return std::nullopt;
}

class PoolMetricsTest : public ::testing::Test {
 protected:
  PoolMetricsTest() : harness_(::testing::UnitTest::GetInstance()->current_test_info()->name()) {}

  std::string scrape() const {
    const HttpReply reply = http_request(harness_.metrics_port(), "/metrics");
    EXPECT_EQ(reply.status, 200);
    return reply.body;
  }
  // Scrapes until `series` reads `value` (the gauges follow the scheduling passes).
  std::string scrape_until(const std::string& series, double value) const {
    std::string exposition;
    eventually([&] {
      exposition = scrape();
      return sample(exposition, series) == value;
    });
    return exposition;
  }
  json workers_to_scrape() const {
    const HttpReply reply = http_request(harness_.metrics_port(), "/sd/workers");
    EXPECT_EQ(reply.status, 200);
    return json::parse(reply.body);
  }

  // Heartbeats until `worker` has been told to start rank 0 of `job`'s `attempt`.
  void wait_for_start(FakeWorker& worker, uint64_t job, int attempt) {
    worker.heartbeat_until([&](const v1::HeartbeatResponse&) {
      return worker.assignments().count({job, attempt, 0}) > 0;
    });
  }

  CoordinatorHarness harness_;
};

TEST_F(PoolMetricsTest, AJobThatRestartsAndSucceedsShowsOnMetricsThatPromtoolAccepts) {
  harness_.start();
  ASSERT_GT(harness_.metrics_port(), 0);
  FakeWorker worker(harness_, "w1", 1);
  ASSERT_TRUE(worker.register_worker().ok());
  const uint64_t id = harness_.submit_ok(job_spec("metered", 1, /*max_restarts=*/1));
  const std::string job_attempt = "gradpool_job_attempt{job_id=\"" + std::to_string(id) + "\"}";

  wait_for_start(worker, id, 1);
  worker.heartbeat();
  ASSERT_TRUE(harness_.job_is(id, v1::JOB_RUNNING, 1));
  std::string exposition = scrape_until("gradpool_jobs{state=\"running\"}", 1);
  EXPECT_EQ(sample(exposition, job_attempt), 1);
  EXPECT_EQ(sample(exposition, "gradpool_gpus{gpu_name=\"cpu\",state=\"busy\"}"), 1);
  EXPECT_EQ(sample(exposition, "gradpool_gpus{gpu_name=\"cpu\",state=\"free\"}"), 0);

  worker.exit(rank_ref(id, 1, 0), 1, "boom");
  worker.heartbeat();
  wait_for_start(worker, id, 2);
  worker.exit(rank_ref(id, 2, 0), 0);
  worker.heartbeat();
  ASSERT_TRUE(harness_.job_is(id, v1::JOB_SUCCEEDED, 2));

  exposition = scrape_until("gradpool_jobs{state=\"succeeded\"}", 1);
  for (const char* state : {"queued", "starting", "running", "failed", "cancelled"})
    EXPECT_EQ(sample(exposition, "gradpool_jobs{state=\"" + std::string(state) + "\"}"), 0)
        << state;
  EXPECT_EQ(sample(exposition, "gradpool_jobs_pending{reason=\"no_matching_gpus\"}"), 0);
  EXPECT_FALSE(sample(exposition, job_attempt)) << "a final job keeps no attempt series";
  EXPECT_EQ(sample(exposition, "gradpool_job_restarts_total{reason=\"rank_failed\"}"), 1);
  EXPECT_EQ(sample(exposition, "gradpool_job_restarts_total{reason=\"worker_lost\"}"), 0);
  EXPECT_EQ(sample(exposition, "gradpool_job_failures_total{reason=\"rank_failed\"}"), 0);
  EXPECT_EQ(sample(exposition, "gradpool_queue_wait_seconds_count"), 2);  // one per attempt
  EXPECT_EQ(sample(exposition, "gradpool_workers{state=\"up\"}"), 1);
  EXPECT_EQ(sample(exposition, "gradpool_workers{state=\"lost\"}"), 0);
  EXPECT_EQ(sample(exposition, "gradpool_gpus{gpu_name=\"cpu\",state=\"free\"}"), 1);
  EXPECT_GT(sample(exposition, "gradpool_scheduler_pass_seconds_count").value_or(0), 0);
  EXPECT_EQ(sample(exposition, "gradpool_rpc_duration_seconds_count{method=\"Jobs.Submit\"}"), 1);
  EXPECT_GT(sample(exposition, "gradpool_rpc_duration_seconds_count{method=\"Workers.Heartbeat\"}")
                .value_or(0),
            0);
  // Every method has its series from the start, the Datasets service's included.
  EXPECT_EQ(sample(exposition, "gradpool_rpc_duration_seconds_count{method=\"Datasets.Upload\"}"),
            0);
  EXPECT_NE(exposition.find("component=\"coordinator\""), std::string::npos);

  const auto promtool = find_promtool();
  if (!promtool) GTEST_SKIP() << "promtool is not installed (Debian: prometheus)";
  const std::string file = (harness_.dir() / "metrics.txt").string();
  write_file_atomic(file, exposition);
  const CommandResult checked = run_command(promtool->string() + " check metrics < '" + file + "'");
  EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n--- the exposition:\n" << exposition;
}

TEST_F(PoolMetricsTest, LostWorkersLeaveServiceDiscoveryAndFailTheirJobs) {
  harness_.options().lease_timeout_s = 1.0;
  harness_.start();
  EXPECT_EQ(workers_to_scrape(), json::array());
  FakeWorker stays(harness_, "w1", 1, "NVIDIA GeForce GTX 1080");
  FakeWorker leaves(harness_, "w2", 1, "NVIDIA GeForce GTX 1080");
  ASSERT_TRUE(stays.register_worker().ok());
  ASSERT_TRUE(leaves.register_worker().ok());
  const json both = json::parse(R"([
    {"targets": ["w1.local:9471"], "labels": {"worker": "w1", "hostname": "w1.local"}},
    {"targets": ["w2.local:9471"], "labels": {"worker": "w2", "hostname": "w2.local"}}])");
  EXPECT_EQ(workers_to_scrape(), both);

  const uint64_t id = harness_.submit_ok(job_spec("fragile", 1, /*max_restarts=*/0));
  ASSERT_TRUE(eventually([&] {
    stays.heartbeat();
    leaves.heartbeat();
    return harness_.job_is(id, v1::JOB_STARTING, 1);
  }));
  FakeWorker& runner = harness_.get(id).ranks(0).worker_id() == "w1" ? stays : leaves;
  FakeWorker& other = &runner == &stays ? leaves : stays;
  wait_for_start(runner, id, 1);
  // The worker running the job goes silent past its lease; the other one keeps its lease.
  ASSERT_TRUE(eventually([&] {
    other.heartbeat();
    return harness_.job_is(id, v1::JOB_FAILED);
  }));

  const std::string exposition = scrape_until("gradpool_workers{state=\"lost\"}", 1);
  const std::string gtx = "gradpool_gpus{gpu_name=\"NVIDIA GeForce GTX 1080\",state=";
  EXPECT_EQ(sample(exposition, "gradpool_workers{state=\"up\"}"), 1);
  EXPECT_EQ(sample(exposition, gtx + "\"lost\"}"), 1);
  EXPECT_EQ(sample(exposition, gtx + "\"free\"}"), 1);
  EXPECT_EQ(sample(exposition, gtx + "\"busy\"}"), 0);
  EXPECT_EQ(sample(exposition, "gradpool_job_failures_total{reason=\"worker_lost\"}"), 1);
  EXPECT_EQ(sample(exposition, "gradpool_job_restarts_total{reason=\"worker_lost\"}"), 0);
  EXPECT_EQ(sample(exposition, "gradpool_jobs{state=\"failed\"}"), 1);
  const std::string survivor = &other == &stays ? "w1" : "w2";
  ASSERT_EQ(workers_to_scrape().size(), 1u);
  EXPECT_EQ(workers_to_scrape()[0]["labels"]["worker"], survivor);
}

TEST_F(PoolMetricsTest, MetricsCanBeTurnedOffAndBadAddressesNameTheFlag) {
  harness_.options().metrics_listen = "off";
  harness_.start();
  EXPECT_EQ(harness_.metrics_port(), 0);
  EXPECT_GT(harness_.submit_ok(job_spec("unmetered")), 0u);  // everything else works as before
  harness_.stop();

  for (const char* listen : {"nowhere", "127.0.0.1:99999"}) {
    harness_.options().metrics_listen = listen;
    try {
      harness_.start();
      ADD_FAILURE() << listen << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--metrics-listen"), std::string::npos) << e.what();
    }
  }
  harness_.options().metrics_listen = "";
  harness_.options().metrics_port_file = (harness_.dir() / "metrics-port").string();
  EXPECT_THROW(harness_.start(), Error);
}

}  // namespace
}  // namespace gradpool::testing
