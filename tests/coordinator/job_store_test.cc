// The coordinator's stores on a real SQLite file: rows round-trip whole, filters and order hold,
// everything survives reopening the file, and usage decays with its half-life.
#include "coordinator/store/job_store.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "coordinator/store/rank_store.h"
#include "coordinator/store/usage_store.h"
#include "coordinator/store/worker_store.h"
#include "tests/test_util.h"

namespace gradpool {
namespace {

JobRecord queued_job(const std::string& user, const std::string& name) {
  JobRecord record;
  v1::Job& job = record.job;
  job.set_user(user);
  job.set_name(name);
  job.set_state(v1::JOB_QUEUED);
  job.set_spec_yaml("name: " + name + "\n");
  job.set_gpus(2);
  job.set_gpu_type("a100");
  job.set_min_gpu_memory_gb(40);
  job.set_priority(10);
  job.set_submit_ms(1000);
  job.set_max_restarts(3);
  job.set_output("/results/" + name);
  job.set_dataset("notes");
  record.dataset_sha256 = std::string(64, 'a');
  return record;
}

class StoreTest : public ::testing::Test {
 protected:
  StoreTest() : path_((testing::temp_dir(name()) / "coordinator.db").string()) {}
  static std::string name() {
    return ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  std::string path_;
};

TEST_F(StoreTest, JobRowsRoundTripAndSurviveReopening) {
  uint64_t id = 0;
  {
    Database db(path_);
    JobStore jobs(db);
    JobRecord record = queued_job("alice", "first");
    db.transaction([&] { id = jobs.insert(record); });
    ASSERT_GT(id, 0u);
    record.job.set_id(id);
    record.job.set_state(v1::JOB_RUNNING);
    record.job.set_attempt(2);
    record.job.mutable_progress()->set_step(17);
    record.job.mutable_progress()->set_loss(1.25);
    record.rendezvous_token = "secret";
    record.accounted_ms = 5000;
    record.requeued_ms = 4000;
    db.transaction([&] { jobs.update(record); });
  }
  Database db(path_);
  JobStore jobs(db);
  const auto found = jobs.find(id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->job.user(), "alice");
  EXPECT_EQ(found->job.state(), v1::JOB_RUNNING);
  EXPECT_EQ(found->job.attempt(), 2);
  EXPECT_EQ(found->job.gpu_type(), "a100");
  EXPECT_DOUBLE_EQ(found->job.min_gpu_memory_gb(), 40);
  EXPECT_EQ(found->job.priority(), 10);
  EXPECT_EQ(found->job.progress().step(), 17);
  EXPECT_DOUBLE_EQ(found->job.progress().loss(), 1.25);
  EXPECT_EQ(found->rendezvous_token, "secret");
  EXPECT_EQ(found->accounted_ms, 5000);
  EXPECT_EQ(found->requeued_ms, 4000);
  EXPECT_EQ(found->dataset_sha256, std::string(64, 'a'));
  EXPECT_FALSE(jobs.find(id + 100));
}

TEST_F(StoreTest, ListFiltersAndOrdersNewestFirst) {
  Database db(path_);
  JobStore jobs(db);
  std::vector<uint64_t> ids;
  db.transaction([&] {
    for (const auto& [user, name] : std::vector<std::pair<std::string, std::string>>{
             {"alice", "a"}, {"bob", "b"}, {"alice", "c"}})
      ids.push_back(jobs.insert(queued_job(user, name)));
  });
  JobRecord done = *jobs.find(ids[0]);
  done.job.set_state(v1::JOB_SUCCEEDED);
  db.transaction([&] { jobs.update(done); });

  const auto all = jobs.list({});
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].job.id(), ids[2]);
  EXPECT_EQ(jobs.list({"alice", {}, 0}).size(), 2u);
  const auto queued_alice = jobs.list({"alice", {v1::JOB_QUEUED}, 0});
  ASSERT_EQ(queued_alice.size(), 1u);
  EXPECT_EQ(queued_alice[0].job.name(), "c");
  EXPECT_EQ(jobs.list({"", {}, 2}).size(), 2u);
  EXPECT_EQ(jobs.unfinished_using_dataset("notes"), (std::vector<uint64_t>{ids[1], ids[2]}));
  EXPECT_TRUE(jobs.unfinished_using_dataset("other").empty());
  EXPECT_EQ(jobs.count_by_state(),
            (std::map<v1::JobState, int64_t>{{v1::JOB_QUEUED, 2}, {v1::JOB_SUCCEEDED, 1}}));
}

TEST_F(StoreTest, OnCommitActionsRunOnlyAfterACommit) {
  Database db(path_);
  JobStore jobs(db);
  std::vector<std::string> ran;
  db.transaction([&] {
    jobs.insert(queued_job("alice", "kept"));
    db.on_commit([&] { ran.push_back("kept"); });
    EXPECT_TRUE(ran.empty());  // not before the commit
  });
  EXPECT_EQ(ran, std::vector<std::string>{"kept"});
  EXPECT_THROW(db.transaction([&] {
    jobs.insert(queued_job("alice", "rolled-back"));
    db.on_commit([&] { ran.push_back("rolled-back"); });
    fail("changed my mind");
  }),
               Error);
  db.transaction([] {});
  EXPECT_EQ(ran, std::vector<std::string>{"kept"});
  EXPECT_EQ(jobs.list({}).size(), 1u);
  EXPECT_THROW(db.on_commit([] {}), Error);  // outside a transaction
}

TEST_F(StoreTest, RanksOfEveryAttemptAreKeptAndLiveOnesFound) {
  Database db(path_);
  RankStore ranks(db);
  db.transaction([&] {
    for (int attempt = 1; attempt <= 2; ++attempt)
      for (int r = 0; r < 2; ++r)
        ranks.insert({7, attempt, r, r == 0 ? "w1" : "w2", r, "cpu", RankState::kAssigned, 0, ""});
  });
  RankRecord exited = *ranks.find(7, 1, 0);
  exited.state = RankState::kExited;
  exited.exit_code = 143;
  exited.message = "stopped";
  db.transaction([&] { ranks.update(exited); });

  EXPECT_EQ(ranks.of_attempt(7, 1).size(), 2u);
  EXPECT_EQ(ranks.find(7, 1, 0)->exit_code, 143);
  EXPECT_EQ(ranks.find(7, 1, 0)->to_proto().state(), "EXITED");
  EXPECT_EQ(ranks.live().size(), 3u);
  EXPECT_EQ(ranks.live("w1").size(), 1u);
  EXPECT_EQ(ranks.live_of_job(7).size(), 3u);
  EXPECT_TRUE(ranks.live_of_job(8).empty());
}

TEST_F(StoreTest, UsageHalvesEveryHalfLife) {
  Database db(path_);
  const double hour_ms = 3600.0 * 1000;
  UsageStore usage(db, hour_ms);
  db.transaction([&] { usage.add("alice", 100, 0); });
  EXPECT_NEAR(usage.decayed(3600 * 1000)["alice"], 50, 1e-9);
  db.transaction([&] { usage.add("alice", 10, 3600 * 1000); });
  EXPECT_NEAR(usage.decayed(2 * 3600 * 1000)["alice"], 30, 1e-9);
  EXPECT_EQ(usage.decayed(0).count("bob"), 0u);
  EXPECT_THROW(UsageStore(db, 0), Error);
}

TEST_F(StoreTest, WorkersKeepTheirSlotsAndState) {
  {
    Database db(path_);
    WorkerStore workers(db);
    v1::Worker worker;
    worker.set_id("w1");
    worker.set_address("10.0.0.1");
    worker.set_state(v1::WORKER_UP);
    v1::Gpu* gpu = worker.add_gpus();
    gpu->set_index(3);
    gpu->set_name("NVIDIA A100-SXM4-80GB");
    gpu->set_memory_bytes(int64_t{80} << 30);
    gpu->set_compute_capability("8.0");
    db.transaction([&] {
      workers.upsert(worker);
      workers.set_state("w1", v1::WORKER_LOST);
      workers.set_last_heartbeat("w1", 1234);
    });
  }
  Database db(path_);
  WorkerStore workers(db);
  const auto worker = workers.find("w1");
  ASSERT_TRUE(worker);
  EXPECT_EQ(worker->state(), v1::WORKER_LOST);
  EXPECT_EQ(worker->last_heartbeat_ms(), 1234);
  ASSERT_EQ(worker->gpus_size(), 1);
  EXPECT_EQ(worker->gpus(0).index(), 3);
  EXPECT_EQ(worker->gpus(0).memory_bytes(), int64_t{80} << 30);
  EXPECT_EQ(worker->gpus(0).compute_capability(), "8.0");
  EXPECT_THROW(workers.set_state("nobody", v1::WORKER_UP), Error);
}

TEST_F(StoreTest, SchemaVersionsAreRecordedPerStore) {
  {
    Database db(path_);
    JobStore jobs(db);
    RankStore ranks(db);
  }
  Database db(path_);
  JobStore reopened(db);  // migrations already applied: nothing to do, nothing fails
  Statement select(db, "SELECT store, version FROM schema_versions ORDER BY store");
  std::map<std::string, int64_t> versions;
  while (select.step()) versions[select.column_text(0)] = select.column_int(1);
  EXPECT_EQ(versions, (std::map<std::string, int64_t>{{"jobs", 2}, {"ranks", 1}}));

  db.exec("UPDATE schema_versions SET version = 99 WHERE store = 'jobs'");
  EXPECT_THROW(JobStore newer(db), Error);
}

TEST_F(StoreTest, AJobsTableOfVersionOneGainsRequeueTimes) {
  uint64_t id = 0;
  {
    Database db(path_);
    JobStore jobs(db);
    db.transaction([&] { id = jobs.insert(queued_job("alice", "old")); });
    // Back to the first schema, as a coordinator before requeue times left the file.
    db.exec("ALTER TABLE jobs DROP COLUMN requeued_ms");
    db.exec("UPDATE schema_versions SET version = 1 WHERE store = 'jobs'");
  }
  Database db(path_);
  JobStore jobs(db);
  ASSERT_TRUE(jobs.find(id));
  EXPECT_EQ(jobs.find(id)->job.name(), "old");
  EXPECT_EQ(jobs.find(id)->requeued_ms, 0);
}

}  // namespace
}  // namespace gradpool
