// Crashes while jobs run: a worker killed with SIGKILL (its ranks die with it) → the job resumes
// from its last checkpoint on the remaining slots and ends with the adapter an uninterrupted run
// trains; the coordinator killed with SIGKILL and restarted → no job lost, the running job keeps
// running through the outage and finishes without a restart.
#include "tests/service/service_fixture.h"

namespace gradpool::testing {
namespace {

constexpr int kLongSteps = 120;

// The same job trained uninterrupted by two gradpool-train ranks with no service around them.
void train_reference(const std::string& spec_yaml, const fs::path& dir) {
  write_file_atomic((dir / "reference.yaml").string(), spec_yaml);
  const std::string rendezvous = "tcp://127.0.0.1:" + std::to_string(pick_free_tcp_port());
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  for (int rank = 0; rank < 2; ++rank)
    ranks.push_back(std::make_unique<ChildProcess>(
        Args{GRADPOOL_TRAIN_BIN, "--config", (dir / "reference.yaml").string(), "--device", "cpu",
             "--rank", std::to_string(rank), "--world-size", "2", "--rendezvous", rendezvous},
        dir / ("reference-rank" + std::to_string(rank))));
  for (auto& rank : ranks) ASSERT_EQ(rank->wait(), 0) << rank->output();
}

TEST_F(ServiceTest, WorkerKilledMidJobResumesFromCheckpointOnTheOtherWorker) {
  start_coordinator();
  start_worker("node-a", 2);
  start_worker("node-b", 2);
  wait_for_workers(2);
  const std::string alice = add_token("alice", "user");
  const uint64_t id =
      submit_ok(alice, job_spec("resilient", 2, kLongSteps, (dir_ / "out").string()));

  const v1::Job running = wait_for_job(
      id,
      [](const v1::Job& job) {
        return job.state() == v1::JOB_RUNNING && job.progress().checkpoint_step() >= 4;
      },
      "checkpointed step 4");
  ASSERT_EQ(running.ranks_size(), 2);
  const std::string victim = running.ranks(0).worker_id();
  ASSERT_TRUE(workers_.count(victim)) << victim;
  workers_[victim]->signal(SIGKILL);
  workers_[victim]->wait();

  const v1::Job done = wait_for_state(id, v1::JOB_SUCCEEDED);
  EXPECT_EQ(done.attempt(), 2);
  for (const auto& rank : done.ranks()) EXPECT_NE(rank.worker_id(), victim);
  EXPECT_EQ(done.progress().step(), kLongSteps);
  const std::string log = job_log(id);
  EXPECT_TRUE(contains(log, victim)) << log;

  // Resuming from a checkpoint continues the same computation: the adapter matches two ranks
  // that were never interrupted.
  train_reference(job_spec("reference", 2, kLongSteps, (dir_ / "reference").string()), dir_);
  expect_close_adapters(dir_ / "out" / "adapter_model.safetensors",
                        dir_ / "reference" / "adapter_model.safetensors", 1e-5);
}

TEST_F(ServiceTest, CoordinatorKilledAndRestartedLosesNoJob) {
  start_coordinator();
  start_worker("node", 2);
  wait_for_workers(1);
  const std::string alice = add_token("alice", "user");
  const uint64_t running_id =
      submit_ok(alice, job_spec("survivor", 2, kLongSteps, (dir_ / "survivor").string()));
  const uint64_t queued_id =
      submit_ok(alice, job_spec("waiting", 2, 4, (dir_ / "waiting").string()));
  wait_for_job(
      running_id,
      [](const v1::Job& job) {
        return job.state() == v1::JOB_RUNNING && job.progress().step() >= 2;
      },
      "trained 2 steps");

  coordinator_->signal(SIGKILL);
  coordinator_->wait();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  start_coordinator();

  const v1::Job survivor = wait_for_state(running_id, v1::JOB_SUCCEEDED);
  EXPECT_EQ(survivor.attempt(), 1) << "the coordinator restart must not restart the job";
  EXPECT_EQ(survivor.progress().step(), kLongSteps);
  const v1::Job waiting = wait_for_state(queued_id, v1::JOB_SUCCEEDED);
  EXPECT_EQ(waiting.attempt(), 1);
  EXPECT_EQ(list_jobs().size(), 2u);
  EXPECT_TRUE(fs::exists(dir_ / "survivor" / "adapter_model.safetensors"));
}

}  // namespace
}  // namespace gradpool::testing
