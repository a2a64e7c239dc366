// CoordinatorClient against a scripted Workers service: registration, heartbeats carrying rank
// reports, start/stop/forget, re-registration and a coordinator that is down for a while.
#include "worker/daemon/coordinator_client.h"

#include <thread>

#include "common/error.h"
#include "common/net.h"
#include "tests/worker/fake_coordinator.h"
#include "tests/worker/rank_fixture.h"
#include "tests/worker/test_servers.h"

namespace gradpool::testing {
namespace {

// A worker whose "gradpool-train" is a script: it prints, reports one step, and waits for a stop.
class CoordinatorClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    script_ = write_script(dir_ / "fake-train.sh",
                           "echo \"started with $*\"\n"
                           "echo '{\"event\":\"step\",\"step\":3,\"total_steps\":9,\"tokens\":64,"
                           "\"step_s\":0.5}' >&3\n"
                           "trap 'echo stopping; exit 143' TERM\n"
                           "while :; do sleep 0.05; done");
  }
  void TearDown() override {
    stop_client();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Starts the client in a thread, dialing `address` with `token`.
  void start_client(const std::string& address,
                    const std::string& token = FakeWorkersService::kToken) {
    Endpoint endpoint;
    endpoint.address = address;
    endpoint.token = token;
    const auto channel = open_channel(endpoint);
    cache_ = std::make_unique<ShardCache>((dir_ / "datasets").string(), channel, endpoint);
    ranks_ =
        std::make_unique<RankTable>(launch_settings(script_), dir_.string(), cpu_slots(2), *cache_);
    client_ = std::make_unique<CoordinatorClient>(
        ClientOptions{endpoint, std::chrono::milliseconds(0), std::chrono::seconds(30)},
        WorkerIdentity{"worker-a", "host-a", "127.0.0.9", cpu_slots(2), "127.0.0.9:9471"}, channel,
        *ranks_);
    thread_ = std::thread([this] {
      try {
        client_->run();
      } catch (const Error& e) {
        std::lock_guard<std::mutex> lock(error_mutex_);
        error_ = e.what();
      }
    });
  }
  void stop_client() {
    if (!client_) return;
    client_->shutdown();
    thread_.join();
    ranks_->stop_all(std::chrono::seconds(5));
    client_.reset();
    ranks_.reset();
  }

  static v1::HeartbeatResponse start_rank() {
    v1::HeartbeatResponse response;
    *response.add_start() = assignment_for("name: fake\nmodel: /m\ndataset: /d.jsonl\nsteps: 9\n");
    return response;
  }

  fs::path dir_;
  std::string script_;
  FakeWorkersService workers_;
  std::unique_ptr<ShardCache> cache_;
  std::unique_ptr<RankTable> ranks_;
  std::unique_ptr<CoordinatorClient> client_;
  std::thread thread_;
  std::mutex error_mutex_;
  std::string error_;
};

TEST_F(CoordinatorClientTest, RegistersItsSlotsThenHeartbeats) {
  TestServer server({&workers_});
  start_client(server.address());
  ASSERT_TRUE(workers_.wait_for(
      [](const auto&, const auto& heartbeats) { return heartbeats.size() >= 3; }));
  const auto registers = workers_.registers();
  ASSERT_EQ(registers.size(), 1u);
  EXPECT_EQ(registers[0].worker_id(), "worker-a");
  EXPECT_EQ(registers[0].hostname(), "host-a");
  EXPECT_EQ(registers[0].address(), "127.0.0.9");
  EXPECT_EQ(registers[0].metrics_address(), "127.0.0.9:9471");
  ASSERT_EQ(registers[0].gpus_size(), 2);
  EXPECT_EQ(registers[0].gpus(1).index(), 1);
  EXPECT_EQ(registers[0].gpus(1).name(), "cpu");
  EXPECT_EQ(registers[0].gpus(1).memory_bytes(), 0);
  for (const auto& heartbeat : workers_.heartbeats()) {
    EXPECT_EQ(heartbeat.worker_id(), "worker-a");
    EXPECT_EQ(heartbeat.ranks_size(), 0);
  }
}

TEST_F(CoordinatorClientTest, StartsReportsStopsAndForgetsRanks) {
  TestServer server({&workers_});
  workers_.answer_next(start_rank());
  workers_.answer_next(start_rank());  // sent again until reported running: still one rank
  start_client(server.address());
  ASSERT_TRUE(workers_.wait_for([](const auto&, const auto& heartbeats) {
    const v1::RankReport* report = last_report(heartbeats);
    return report && report->running() && report->progress().step() == 3;
  })) << all_logs(workers_.heartbeats());
  const v1::RankReport running = *last_report(workers_.heartbeats());
  EXPECT_EQ(running.progress().tokens(), 64);
  EXPECT_EQ(running.progress().total_steps(), 9);
  for (const auto& heartbeat : workers_.heartbeats()) EXPECT_LE(heartbeat.ranks_size(), 1);
  const std::string started = all_logs(workers_.heartbeats());
  EXPECT_TRUE(contains(started, "started with --config " + dir_.string() +
                                    "/jobs/1/attempt-1/rank-0/spec.yaml --rank 0"))
      << started;

  v1::HeartbeatResponse stop;
  *stop.add_stop() = running.ref();
  stop.set_stop_grace_ms(10'000);
  workers_.answer_next(stop);
  ASSERT_TRUE(workers_.wait_for([](const auto&, const auto& heartbeats) {
    const v1::RankReport* report = last_report(heartbeats);
    return report && report->exited();
  }));
  const v1::RankReport exited = *last_report(workers_.heartbeats());
  EXPECT_FALSE(exited.running());
  EXPECT_EQ(exited.exit_code(), 143);
  // Every line arrived exactly once, across heartbeats.
  const std::string log = all_logs(workers_.heartbeats());
  EXPECT_EQ(log.find("started with"), log.rfind("started with")) << log;
  EXPECT_TRUE(contains(log, "stopping\n")) << log;

  v1::HeartbeatResponse forget;
  *forget.add_forget() = running.ref();
  workers_.answer_next(forget);
  const size_t before = workers_.heartbeats().size();
  ASSERT_TRUE(workers_.wait_for([&](const auto&, const auto& heartbeats) {
    return heartbeats.size() > before + 2 && heartbeats.back().ranks_size() == 0;
  }));
}

TEST_F(CoordinatorClientTest, RegistersAgainWhenToldWithItsRanks) {
  TestServer server({&workers_});
  workers_.answer_next(start_rank());
  start_client(server.address());
  ASSERT_TRUE(workers_.wait_for([](const auto&, const auto& heartbeats) {
    const v1::RankReport* report = last_report(heartbeats);
    return report && report->running();
  }));
  v1::HeartbeatResponse reregister;
  reregister.set_reregister(true);
  workers_.answer_next(reregister);
  ASSERT_TRUE(
      workers_.wait_for([](const auto& registers, const auto&) { return registers.size() == 2; }));
  const v1::RegisterRequest again = workers_.registers()[1];
  ASSERT_EQ(again.ranks_size(), 1);
  EXPECT_TRUE(again.ranks(0).running()) << "the rank kept running";
  EXPECT_EQ(again.ranks(0).ref().job_id(), 1u);
}

TEST_F(CoordinatorClientTest, KeepsTryingWhileTheCoordinatorIsDown) {
  const int port = pick_free_tcp_port();
  start_client("127.0.0.1:" + std::to_string(port));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // a few failed attempts
  EXPECT_TRUE(workers_.registers().empty());
  TestServer server({&workers_}, port);
  ASSERT_TRUE(server.ok());
  EXPECT_TRUE(workers_.wait_for([](const auto& registers, const auto& heartbeats) {
    return registers.size() == 1 && !heartbeats.empty();
  }));
}

TEST_F(CoordinatorClientTest, AWrongTokenAtTheFirstRegistrationIsFatal) {
  TestServer server({&workers_});
  start_client(server.address(), "not-a-worker-token");
  thread_.join();  // run() returned by itself
  thread_ = std::thread([] {});
  std::lock_guard<std::mutex> lock(error_mutex_);
  EXPECT_TRUE(contains(
      error_, "registering worker 'worker-a' with " + server.address() + ": UNAUTHENTICATED"))
      << error_;
}

}  // namespace
}  // namespace gradpool::testing
