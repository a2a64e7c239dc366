// RankProcess: real gradpool-train ranks (and small scripts) launched, read, stopped and reaped.
#include "worker/daemon/rank_process.h"

#include <future>
#include <mutex>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "tests/worker/rank_fixture.h"

namespace gradpool::testing {
namespace {

class RankProcessTest : public TrainProcess {
 protected:
  // Prepares the way the worker does: spec.yaml in the work directory, then rank_command.
  RankProcess::Prepare prepare(const Spec& spec,
                               const std::string& train_bin = GRADPOOL_TRAIN_BIN) {
    return [this, spec, train_bin] {
      const fs::path spec_path = dir_ / "spec.yaml";
      spec.write(spec_path);
      return rank_command(launch_settings(train_bin), assignment_for(""), cpu_slots(1)[0],
                          spec_path.string(), dir_.string(), current_environment());
    };
  }
  // A RankProcess whose report events are collected in events_.
  std::unique_ptr<RankProcess> start(RankProcess::Prepare prepare) {
    return std::make_unique<RankProcess>(assignment_for("").ref(), std::move(prepare),
                                         [this](std::string_view line) {
                                           std::lock_guard<std::mutex> lock(events_mutex_);
                                           events_.push_back(nlohmann::json::parse(line));
                                         });
  }
  std::vector<nlohmann::json> events() {
    std::lock_guard<std::mutex> lock(events_mutex_);
    return events_;
  }
  static v1::RankReport report_of(const RankProcess& rank) {
    RankProcess::LogMark mark;
    return rank.report(&mark);
  }
  // A script rank: `body` runs in place of gradpool-train.
  std::unique_ptr<RankProcess> start_script(const std::string& body) {
    const std::string script = write_script(dir_ / "rank.sh", body);
    return start([this, script] {
      return RankCommand{{script}, current_environment(), dir_.string()};
    });
  }

  std::mutex events_mutex_;
  std::vector<nlohmann::json> events_;
};

TEST_F(RankProcessTest, ARankRunsToTheEndReportingEveryEvent) {
  auto rank = start(prepare(job("out")));
  ASSERT_TRUE(rank->wait_until(std::chrono::steady_clock::now() + kDeadline));
  const v1::RankReport report = report_of(*rank);
  ASSERT_EQ(report.exit_code(), 0) << report.log();
  EXPECT_TRUE(report.exited());
  EXPECT_FALSE(report.running());
  EXPECT_EQ(report.message(), "");

  const std::vector<nlohmann::json> all = events();
  ASSERT_GE(all.size(), 2u);
  EXPECT_EQ(
      all.front(),
      (nlohmann::json{
          {"event", "start"}, {"rank", 0}, {"world_size", 1}, {"step", 0}, {"total_steps", 10}}));
  EXPECT_EQ(all.back(), (nlohmann::json{{"event", "done"}, {"step", 10}}));
  std::vector<int64_t> steps, checkpoints;
  int64_t tokens = 0;
  for (const auto& event : all) {
    if (event["event"] == "step") {
      steps.push_back(event["step"]);
      EXPECT_GT(event["tokens"].get<int64_t>(), 0) << event;
      EXPECT_EQ(event["local_tokens"], event["tokens"]) << "a world of one: " << event;
      EXPECT_EQ(event["samples"], 4) << event;
      EXPECT_EQ(event["local_samples"], 4) << "a world of one: " << event;
      // A CPU rank has no GPU memory and no MFU to report: the fields are absent, not 0.
      for (const char* field : {"mfu", "gpu_memory_allocated_bytes", "gpu_memory_reserved_bytes",
                                "gpu_memory_peak_bytes"})
        EXPECT_FALSE(event.contains(field)) << event;
      EXPECT_GT(event["step_s"].get<double>(), 0) << event;
      EXPECT_EQ(event["allreduce_s"], 0.0) << event;
      tokens += event["tokens"].get<int64_t>();
    } else if (event["event"] == "checkpoint") {
      checkpoints.push_back(event["step"]);
      EXPECT_GE(event["seconds"].get<double>(), 0) << event;
    }
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(checkpoints, (std::vector<int64_t>{2, 4, 6, 8, 10}));

  EXPECT_EQ(report.progress().step(), 10);
  EXPECT_EQ(report.progress().total_steps(), 10);
  EXPECT_EQ(report.progress().checkpoint_step(), 10);
  EXPECT_EQ(report.progress().tokens(), tokens);
  EXPECT_GT(report.progress().tokens_per_second(), 0);
  EXPECT_GT(report.progress().loss(), 0);
  EXPECT_TRUE(contains(report.log(), "step 10/10")) << report.log();
  EXPECT_TRUE(fs::exists(out("out") / "adapter_model.safetensors"));
}

TEST_F(RankProcessTest, StopMakesTheRankCheckpointAndExit143) {
  auto rank = start(prepare(job("out").set("steps", "100000").set("checkpoint_every", "0")));
  ASSERT_TRUE(
      eventually([&] { return report_of(*rank).progress().step() >= 2 || rank->exited(); }));
  ASSERT_FALSE(rank->exited()) << report_of(*rank).log();
  EXPECT_TRUE(report_of(*rank).running());
  rank->stop(std::chrono::seconds(60));
  ASSERT_TRUE(rank->wait_until(std::chrono::steady_clock::now() + kDeadline));
  const v1::RankReport report = report_of(*rank);
  EXPECT_EQ(report.exit_code(), 143) << report.log();
  EXPECT_TRUE(contains(report.message(), "stopped by signal")) << report.message();
  EXPECT_GE(report.progress().checkpoint_step(), 2);
  EXPECT_EQ(report.progress().checkpoint_step(), report.progress().step());
  EXPECT_TRUE(fs::exists(out("out") / "checkpoints")) << report.log();
  EXPECT_FALSE(fs::is_empty(out("out") / "checkpoints"));
  for (const auto& event : events()) EXPECT_NE(event["event"], "done") << event;
}

TEST_F(RankProcessTest, ARankThatIgnoresStopIsKilledAfterTheGracePeriod) {
  auto rank = start_script("trap '' TERM; echo ready; while :; do sleep 1; done");
  ASSERT_TRUE(eventually([&] { return contains(report_of(*rank).log(), "ready\n"); }));
  rank->stop(std::chrono::milliseconds(200));
  ASSERT_TRUE(rank->wait_until(std::chrono::steady_clock::now() + kDeadline));
  const v1::RankReport report = report_of(*rank);
  EXPECT_EQ(report.exit_code(), 128 + SIGKILL);
  EXPECT_EQ(report.message(), "did not stop within its grace period: killed");
}

TEST_F(RankProcessTest, TheLastErrorLineIsTheMessage) {
  auto rank = start_script(
      "echo '[2025-01-01 00:00:00.000] [error] first problem' >&2\n"
      "echo '[2025-01-01 00:00:00.001] [error] dataset: broken.jsonl line 3: not JSON' >&2\n"
      "echo 'a later line'\n"
      "echo '{\"event\":\"step\",\"step\":4,\"tokens\":10,\"step_s\":0.5}' >&3\n"
      "exit 3");
  ASSERT_TRUE(rank->wait_until(std::chrono::steady_clock::now() + kDeadline));
  const v1::RankReport report = report_of(*rank);
  EXPECT_EQ(report.exit_code(), 3);
  EXPECT_EQ(report.message(), "dataset: broken.jsonl line 3: not JSON");
  EXPECT_EQ(report.progress().step(), 4);
  EXPECT_TRUE(contains(report.log(), "first problem")) << report.log();
  EXPECT_TRUE(contains(report.log(), "a later line\n")) << report.log();
  EXPECT_FALSE(contains(report.log(), "event")) << "report events are not log lines";
}

TEST_F(RankProcessTest, LogsAreDeliveredOnce) {
  auto rank = start_script("echo one; echo two");
  ASSERT_TRUE(rank->wait_until(std::chrono::steady_clock::now() + kDeadline));
  RankProcess::LogMark mark;
  EXPECT_EQ(rank->report(&mark).log(), "one\ntwo\n");
  rank->log_delivered(mark);
  EXPECT_EQ(rank->report(&mark).log(), "");
  EXPECT_TRUE(rank->report(&mark).exited()) << "an exited rank is still reported";
}

TEST_F(RankProcessTest, AProgramThatCannotRunExits127) {
  auto rank = start(prepare(job("out"), (dir_ / "no-such-gradpool-train").string()));
  ASSERT_TRUE(rank->wait_until(std::chrono::steady_clock::now() + kDeadline));
  const v1::RankReport report = report_of(*rank);
  EXPECT_EQ(report.exit_code(), kExitCannotExecute);
  EXPECT_TRUE(
      contains(report.message(), "cannot execute " + (dir_ / "no-such-gradpool-train").string()))
      << report.message();
}

TEST_F(RankProcessTest, APreparationFailureIsTheRanksMessage) {
  auto rank = start([]() -> RankCommand {
    fail("dataset 'notes' shard 0: sha256 mismatch: received a, the dataset says b; not cached");
  });
  ASSERT_TRUE(rank->wait_until(std::chrono::steady_clock::now() + kDeadline));
  const v1::RankReport report = report_of(*rank);
  EXPECT_TRUE(report.exited());
  EXPECT_FALSE(report.running());
  EXPECT_EQ(report.exit_code(), kExitSetupFailed);
  EXPECT_EQ(report.message(),
            "dataset 'notes' shard 0: sha256 mismatch: received a, the dataset says b; not cached");
}

TEST_F(RankProcessTest, ARankStoppedWhilePreparingNeverStarts) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  const fs::path marker = dir_ / "started";
  auto rank = start([&, released] {
    released.wait();
    const std::string script = write_script(dir_ / "rank.sh", "touch " + marker.string());
    return RankCommand{{script}, current_environment(), dir_.string()};
  });
  EXPECT_FALSE(report_of(*rank).running());
  EXPECT_FALSE(report_of(*rank).exited());
  rank->stop(std::chrono::seconds(10));
  release.set_value();
  ASSERT_TRUE(rank->wait_until(std::chrono::steady_clock::now() + kDeadline));
  EXPECT_EQ(report_of(*rank).exit_code(), 143);
  EXPECT_EQ(report_of(*rank).message(), "stopped before it started");
  EXPECT_FALSE(fs::exists(marker));
}

}  // namespace
}  // namespace gradpool::testing
