// RankTable: an assignment with a registered dataset becomes a prepared work directory and a
// running gradpool-train rank, fed by the shard cache from a real FetchShard server.
#include "worker/daemon/rank_table.h"

#include "common/job_spec.h"
#include "tests/worker/rank_fixture.h"
#include "tests/worker/test_servers.h"

namespace gradpool::testing {
namespace {

// The fixture's dataset split into two shards, served by a FetchShard server.
class RankTableTest : public TrainProcess {
 protected:
  void SetUp() override {
    TrainProcess::SetUp();
    const std::string data = read_file((shared_ / "notes.jsonl").string());
    const size_t middle = data.find('\n', data.size() / 2) + 1;
    shards_ = std::make_unique<ShardServer>(
        std::vector<std::string>{data.substr(0, middle), data.substr(middle)});
    server_ = std::make_unique<TestServer>(std::vector<grpc::Service*>{shards_.get()});
    ASSERT_TRUE(server_->ok());
    const Endpoint endpoint = endpoint_of(*server_, ShardServer::kToken);
    cache_ = std::make_unique<ShardCache>((dir_ / "cache" / "datasets").string(),
                                          open_channel(endpoint), endpoint);
    table_ = std::make_unique<RankTable>(launch_settings(), (dir_ / "cache").string(), cpu_slots(1),
                                         *cache_);
  }
  void TearDown() override {
    table_.reset();
    TrainProcess::TearDown();
  }

  // Reports until every rank exited (or the deadline).
  std::vector<v1::RankReport> wait_for_exits() {
    std::vector<v1::RankReport> reports;
    eventually([&] {
      reports = table_->reports().reports;
      return std::all_of(reports.begin(), reports.end(),
                         [](const v1::RankReport& report) { return report.exited(); });
    });
    return reports;
  }

  std::unique_ptr<ShardServer> shards_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<ShardCache> cache_;
  std::unique_ptr<RankTable> table_;
};

TEST_F(RankTableTest, StartsARankOnARegisteredDataset) {
  v1::RankAssignment assignment =
      assignment_for(yaml_of(job("out").set("dataset", "notes"), dir_ / "job.yaml"));
  *assignment.mutable_dataset() = shards_->dataset("notes");
  table_->start(assignment);
  table_->start(assignment);  // sent again by the coordinator: the same rank
  const std::vector<v1::RankReport> reports = wait_for_exits();
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_EQ(reports[0].exit_code(), 0) << reports[0].message() << "\n" << reports[0].log();
  EXPECT_EQ(reports[0].ref().SerializeAsString(), assignment.ref().SerializeAsString());
  EXPECT_EQ(reports[0].progress().step(), 10);

  const fs::path work_dir = dir_ / "cache" / "jobs" / "1" / "attempt-1" / "rank-0";
  const JobSpec spec = load_job_spec((work_dir / "spec.yaml").string());
  const std::string cached =
      (dir_ / "cache" / "datasets" / assignment.dataset().sha256() / "dataset.jsonl").string();
  EXPECT_EQ(spec.dataset, cached);
  EXPECT_EQ(read_file(cached), read_file((shared_ / "notes.jsonl").string()));
  EXPECT_EQ(spec.output, out("out").string());
  EXPECT_EQ(shards_->fetches, 2);
  EXPECT_TRUE(fs::exists(out("out") / "adapter_model.safetensors"));

  table_->forget(assignment.ref());
  EXPECT_TRUE(table_->reports().reports.empty());
}

TEST_F(RankTableTest, ACorruptShardFailsTheRankBeforeItStarts) {
  shards_->corrupt = true;
  v1::RankAssignment assignment =
      assignment_for(yaml_of(job("out").set("dataset", "notes"), dir_ / "job.yaml"));
  *assignment.mutable_dataset() = shards_->dataset("notes");
  table_->start(assignment);
  const std::vector<v1::RankReport> reports = wait_for_exits();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].exit_code(), kExitSetupFailed);
  EXPECT_TRUE(contains(reports[0].message(), "dataset 'notes' shard 0: sha256 mismatch"))
      << reports[0].message();
  EXPECT_FALSE(fs::exists(out("out")));
}

TEST_F(RankTableTest, BadAssignmentsFailTheRankWithAMessage) {
  v1::RankAssignment no_slot = assignment_for(yaml_of(job("out"), dir_ / "job.yaml"));
  no_slot.set_slot(7);
  v1::RankAssignment bad_spec = assignment_for("name: x\nseq_len: -3\n", 1, 2);
  table_->start(no_slot);
  table_->start(bad_spec);
  const std::vector<v1::RankReport> reports = wait_for_exits();
  ASSERT_EQ(reports.size(), 2u);
  for (const v1::RankReport& report : reports) EXPECT_EQ(report.exit_code(), kExitSetupFailed);
  EXPECT_EQ(reports[0].message(),
            "job 1 attempt 1 rank 0: slot 7 does not exist on this worker (1 slots)");
  EXPECT_TRUE(contains(reports[1].message(), "job 1 attempt 1 rank 1 spec"))
      << reports[1].message();
}

TEST_F(RankTableTest, StopAllStopsRunningRanks) {
  table_->start(assignment_for(yaml_of(job("out").set("steps", "100000"), dir_ / "job.yaml")));
  ASSERT_TRUE(eventually([&] {
    const auto reports = table_->reports().reports;
    return reports[0].progress().step() >= 1 || reports[0].exited();
  }));
  EXPECT_EQ(table_->running(), 1u);
  table_->stop_all(std::chrono::seconds(60));
  EXPECT_EQ(table_->running(), 0u);
  EXPECT_EQ(table_->reports().reports[0].exit_code(), 143);
}

}  // namespace
}  // namespace gradpool::testing
