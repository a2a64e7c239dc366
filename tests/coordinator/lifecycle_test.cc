// The job lifecycle through the real API: placement onto a (fake) worker's slots, start/stop/
// forget in heartbeats, success, failure with restarts, lost workers, coordinator restarts and
// fair share.
#include <gtest/gtest.h>

#include "tests/coordinator/coordinator_harness.h"

namespace gradpool::testing {
namespace {

class LifecycleTest : public ::testing::Test {
 protected:
  LifecycleTest() : harness_(::testing::UnitTest::GetInstance()->current_test_info()->name()) {
    harness_.start();
  }
  CoordinatorHarness harness_;
};

// Heartbeats until the worker has been told to start `count` ranks of `job`'s attempt.
void wait_for_starts(FakeWorker& worker, uint64_t job, int attempt, int count) {
  worker.heartbeat_until([&](const v1::HeartbeatResponse&) {
    int started = 0;
    for (const auto& [key, assignment] : worker.assignments())
      if (std::get<0>(key) == job && std::get<1>(key) == attempt) ++started;
    return started == count;
  });
}

TEST_F(LifecycleTest, JobRunsToSuccessOnAWorkersSlots) {
  FakeWorker worker(harness_, "w1", 2);
  worker.start_ranks_running(false);
  ASSERT_TRUE(worker.register_worker().ok());
  const uint64_t id = harness_.submit_ok(job_spec("two-ranks", 2));
  ASSERT_TRUE(eventually([&] { return harness_.job_is(id, v1::JOB_STARTING, 1); }));

  wait_for_starts(worker, id, 1, 2);
  const v1::RankAssignment& rank0 = worker.assignments().at({id, 1, 0});
  const v1::RankAssignment& rank1 = worker.assignments().at({id, 1, 1});
  EXPECT_EQ(rank0.world_size(), 2);
  EXPECT_EQ(rank0.backend(), "gloo");
  EXPECT_FALSE(rank0.rendezvous_token().empty());
  EXPECT_EQ(rank0.rendezvous_token(), rank1.rendezvous_token());
  EXPECT_NE(rank0.slot(), rank1.slot());
  EXPECT_NE(rank0.spec_yaml().find("name: two-ranks"), std::string::npos);
  EXPECT_TRUE(rank0.dataset().name().empty());  // a path dataset

  // Reported as starting: nothing new to do.
  EXPECT_EQ(worker.heartbeat().start_size(), 0);
  EXPECT_EQ(harness_.get(id).state(), v1::JOB_STARTING);
  // Not reported (say the response carrying them was lost): the starts are sent again.
  FakeWorker forgetful(harness_, "w1", 2);
  EXPECT_EQ(forgetful.heartbeat().start_size(), 2);

  worker.set_running(rank_ref(id, 1, 0));
  worker.set_running(rank_ref(id, 1, 1));
  v1::Progress progress;
  progress.set_step(4);
  progress.set_total_steps(10);
  progress.set_loss(2.5);
  progress.set_checkpoint_step(4);
  worker.progress(rank_ref(id, 1, 0), progress);
  worker.log(rank_ref(id, 1, 0), "hello from rank 0\n");
  const v1::HeartbeatResponse running = worker.heartbeat();
  EXPECT_EQ(running.start_size(), 0);
  EXPECT_EQ(running.stop_size(), 0);
  v1::Job job = harness_.get(id);
  EXPECT_EQ(job.state(), v1::JOB_RUNNING);
  EXPECT_EQ(job.progress().step(), 4);
  EXPECT_EQ(job.progress().checkpoint_step(), 4);
  EXPECT_DOUBLE_EQ(job.progress().loss(), 2.5);
  ASSERT_EQ(job.ranks_size(), 2);
  EXPECT_EQ(job.ranks(0).state(), "RUNNING");
  EXPECT_EQ(job.ranks(0).worker_id(), "w1");
  ASSERT_EQ(harness_.list_workers().size(), 1u);
  EXPECT_EQ(harness_.list_workers()[0].busy_slots_size(), 2);

  worker.exit(rank_ref(id, 1, 1), 0);
  worker.heartbeat();
  EXPECT_EQ(harness_.get(id).state(), v1::JOB_RUNNING);  // rank 0 still runs
  worker.exit(rank_ref(id, 1, 0), 0);
  const v1::HeartbeatResponse done = worker.heartbeat();
  EXPECT_TRUE(contains(done.forget(), rank_ref(id, 1, 0)));
  job = harness_.get(id);
  EXPECT_EQ(job.state(), v1::JOB_SUCCEEDED);
  EXPECT_GT(job.end_ms(), 0);
  EXPECT_FALSE(worker.reports(rank_ref(id, 1, 0)));

  const std::string log = harness_.logs(id);
  EXPECT_NE(log.find("[rank 0] hello from rank 0\n"), std::string::npos) << log;
  EXPECT_NE(log.find("[gradpool] attempt 1: placed rank 0 on w1"), std::string::npos) << log;
  EXPECT_NE(log.find("succeeded"), std::string::npos) << log;
}

TEST_F(LifecycleTest, FailedRankStopsTheOthersRequeuesAndFailsAfterMaxRestarts) {
  FakeWorker worker(harness_, "w1", 2);
  ASSERT_TRUE(worker.register_worker().ok());
  const uint64_t id = harness_.submit_ok(job_spec("flaky", 2, /*max_restarts=*/1));
  ASSERT_TRUE(eventually([&] { return harness_.job_is(id, v1::JOB_STARTING, 1); }));
  wait_for_starts(worker, id, 1, 2);
  worker.heartbeat();
  ASSERT_EQ(harness_.get(id).state(), v1::JOB_RUNNING);

  worker.exit(rank_ref(id, 1, 1), 1, "RuntimeError: boom");
  const v1::HeartbeatResponse stop =
      worker.heartbeat_until([&](const v1::HeartbeatResponse& response) {
        return contains(response.stop(), rank_ref(id, 1, 0));
      });
  ASSERT_TRUE(contains(stop.stop(), rank_ref(id, 1, 0)));
  EXPECT_GT(stop.stop_grace_ms(), 0);
  v1::Job job = harness_.get(id);
  EXPECT_EQ(job.state(), v1::JOB_QUEUED);
  EXPECT_EQ(job.attempt(), 1);
  EXPECT_EQ(job.reason(), v1::REASON_STOPPING_PREVIOUS);
  EXPECT_NE(job.message().find("attempt 1: rank 1 on w1 exited with 1: RuntimeError: boom"),
            std::string::npos)
      << job.message();

  // Rank 0 still holds its slot: several scheduling passes later the job still waits.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  worker.heartbeat();
  job = harness_.get(id);
  EXPECT_EQ(job.state(), v1::JOB_QUEUED);
  EXPECT_EQ(job.reason(), v1::REASON_STOPPING_PREVIOUS);

  worker.exit(rank_ref(id, 1, 0), 143);
  worker.heartbeat();
  ASSERT_TRUE(eventually([&] { return harness_.job_is(id, v1::JOB_STARTING, 2); }));
  wait_for_starts(worker, id, 2, 2);
  EXPECT_NE(worker.assignments().at({id, 2, 0}).rendezvous_token(),
            worker.assignments().at({id, 1, 0}).rendezvous_token());

  worker.exit(rank_ref(id, 2, 0), 1, "CUDA error");
  worker.heartbeat_until([&](const v1::HeartbeatResponse& response) {
    return contains(response.stop(), rank_ref(id, 2, 1));
  });
  job = harness_.get(id);
  EXPECT_EQ(job.state(), v1::JOB_FAILED);
  EXPECT_NE(job.message().find("attempt 2: rank 0 on w1 exited with 1: CUDA error"),
            std::string::npos)
      << job.message();
  EXPECT_GT(job.end_ms(), 0);
  EXPECT_NE(harness_.logs(id).find("requeued"), std::string::npos);
}

TEST_F(LifecycleTest, WorkerThatStopsHeartbeatingIsLostAndItsJobMoves) {
  harness_.options().lease_timeout_s = 1.0;
  harness_.restart();
  FakeWorker first(harness_, "w1", 1);
  ASSERT_TRUE(first.register_worker().ok());
  const uint64_t id = harness_.submit_ok(job_spec("mover"));
  ASSERT_TRUE(eventually([&] { return harness_.job_is(id, v1::JOB_STARTING, 1); }));
  wait_for_starts(first, id, 1, 1);
  first.heartbeat();
  ASSERT_EQ(harness_.get(id).state(), v1::JOB_RUNNING);

  // w1 goes silent past its lease.
  ASSERT_TRUE(eventually([&] {
    const auto workers = harness_.list_workers();
    return workers.size() == 1 && workers[0].state() == v1::WORKER_LOST;
  }));
  v1::Job job = harness_.get(id);
  EXPECT_EQ(job.state(), v1::JOB_QUEUED);
  ASSERT_EQ(job.ranks_size(), 1);
  EXPECT_EQ(job.ranks(0).state(), "LOST");
  EXPECT_NE(job.message().find("missed its lease"), std::string::npos) << job.message();

  FakeWorker second(harness_, "w2", 1);
  ASSERT_TRUE(second.register_worker().ok());
  ASSERT_TRUE(eventually([&] { return harness_.job_is(id, v1::JOB_STARTING, 2); }));
  wait_for_starts(second, id, 2, 1);
  EXPECT_EQ(harness_.get(id).ranks(0).worker_id(), "w2");

  // The lost worker comes back: it must register again, and its stale rank is stopped.
  EXPECT_TRUE(first.heartbeat().reregister());
  ASSERT_TRUE(first.register_worker().ok());
  EXPECT_TRUE(contains(first.heartbeat().stop(), rank_ref(id, 1, 0)));
}

TEST_F(LifecycleTest, CoordinatorRestartKeepsJobsAndReadoptsRunningRanks) {
  FakeWorker worker(harness_, "w1", 2);
  ASSERT_TRUE(worker.register_worker().ok());
  const uint64_t id = harness_.submit_ok(job_spec("survivor", 2));
  const uint64_t queued = harness_.submit_ok(job_spec("waiting", 4));
  ASSERT_TRUE(eventually([&] { return harness_.job_is(id, v1::JOB_STARTING, 1); }));
  wait_for_starts(worker, id, 1, 2);
  worker.heartbeat();
  ASSERT_EQ(harness_.get(id).state(), v1::JOB_RUNNING);

  harness_.restart();
  v1::HeartbeatResponse response = worker.heartbeat();
  EXPECT_FALSE(response.reregister());
  EXPECT_EQ(response.stop_size(), 0);
  EXPECT_EQ(response.start_size(), 0);
  v1::Job job = harness_.get(id);
  EXPECT_EQ(job.state(), v1::JOB_RUNNING);
  EXPECT_EQ(job.attempt(), 1);
  EXPECT_EQ(harness_.get(queued).state(), v1::JOB_QUEUED);

  // Re-registering with the running ranks (what a worker does on `reregister`) keeps them too,
  // while a rank the coordinator never placed there is stopped.
  harness_.restart();
  worker.claim(rank_ref(999, 1, 0));
  ASSERT_TRUE(worker.register_worker().ok());
  response = worker.heartbeat();
  EXPECT_FALSE(contains(response.stop(), rank_ref(id, 1, 0)));
  EXPECT_FALSE(contains(response.stop(), rank_ref(id, 1, 1)));
  EXPECT_TRUE(contains(response.stop(), rank_ref(999, 1, 0)));
  EXPECT_EQ(harness_.get(id).state(), v1::JOB_RUNNING);

  worker.exit(rank_ref(id, 1, 0), 0);
  worker.exit(rank_ref(id, 1, 1), 0);
  worker.heartbeat();
  EXPECT_EQ(harness_.get(id).state(), v1::JOB_SUCCEEDED);
}

TEST_F(LifecycleTest, WorkerRestartedWithoutItsRanksFailsTheAttempt) {
  FakeWorker worker(harness_, "w1", 1);
  ASSERT_TRUE(worker.register_worker().ok());
  const uint64_t id = harness_.submit_ok(job_spec("orphan"));
  ASSERT_TRUE(eventually([&] { return harness_.job_is(id, v1::JOB_STARTING, 1); }));
  wait_for_starts(worker, id, 1, 1);
  worker.heartbeat();
  ASSERT_EQ(harness_.get(id).state(), v1::JOB_RUNNING);

  FakeWorker restarted(harness_, "w1", 1);  // same id, knows no ranks
  ASSERT_TRUE(restarted.register_worker().ok());
  const v1::Job job = harness_.get(id);
  EXPECT_NE(job.state(), v1::JOB_RUNNING);
  EXPECT_NE(job.message().find("no longer reports it"), std::string::npos) << job.message();
}

TEST_F(LifecycleTest, LightUserGoesBeforeAHeavyUsersOlderJob) {
  FakeWorker worker(harness_, "w1", 1);
  ASSERT_TRUE(worker.register_worker().ok());
  const uint64_t heavy_first = harness_.submit_ok(job_spec("heavy-1"), harness_.bob);
  ASSERT_TRUE(eventually([&] { return harness_.job_is(heavy_first, v1::JOB_STARTING, 1); }));
  wait_for_starts(worker, heavy_first, 1, 1);
  worker.heartbeat();
  const uint64_t heavy_second = harness_.submit_ok(job_spec("heavy-2"), harness_.bob);
  const uint64_t light = harness_.submit_ok(job_spec("light"), harness_.alice);

  // bob accrues usage while heavy-1 runs, so alice's younger job moves ahead of his.
  ASSERT_TRUE(eventually([&] {
    return harness_.get(light).queue_position() == 1 &&
           harness_.get(heavy_second).queue_position() == 2;
  }));
  worker.exit(rank_ref(heavy_first, 1, 0), 0);
  worker.heartbeat();
  ASSERT_TRUE(eventually([&] { return harness_.get(light).state() == v1::JOB_STARTING; }));
  EXPECT_EQ(harness_.get(heavy_second).state(), v1::JOB_QUEUED);
}

TEST_F(LifecycleTest, CancelStopsRunningRanksAndFreesTheirSlotsOnExit) {
  FakeWorker worker(harness_, "w1", 1);
  ASSERT_TRUE(worker.register_worker().ok());
  const uint64_t id = harness_.submit_ok(job_spec("doomed"));
  const uint64_t next = harness_.submit_ok(job_spec("next"));
  ASSERT_TRUE(eventually([&] { return harness_.job_is(id, v1::JOB_STARTING, 1); }));
  wait_for_starts(worker, id, 1, 1);
  worker.heartbeat();

  v1::Job cancelled;
  ASSERT_TRUE(harness_.cancel(harness_.alice, id, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), v1::JOB_CANCELLED);
  EXPECT_EQ(cancelled.message(), "cancelled by alice");
  EXPECT_TRUE(contains(worker.heartbeat().stop(), rank_ref(id, 1, 0)));
  // Its slot stays busy until the rank has exited.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(harness_.get(next).state(), v1::JOB_QUEUED);
  worker.exit(rank_ref(id, 1, 0), 143);
  worker.heartbeat();
  ASSERT_TRUE(eventually([&] { return harness_.job_is(next, v1::JOB_STARTING, 1); }));
  EXPECT_EQ(harness_.get(id).state(), v1::JOB_CANCELLED);

  const grpc::Status again = harness_.cancel(harness_.alice, id);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(LifecycleTest, QueuedJobsSayWhyTheyWait) {
  FakeWorker worker(harness_, "w1", 2, "NVIDIA GeForce GTX 1080");
  ASSERT_TRUE(worker.register_worker().ok());
  const uint64_t too_many = harness_.submit_ok(job_spec("too-many", 3));
  const uint64_t wrong_type = harness_.submit_ok(
      "name: a100-only\nmodel: /m\ndataset: /d.jsonl\nsteps: 1\nresources: {gpu_type: a100}\n");
  const uint64_t fits = harness_.submit_ok(job_spec("fits", 2));
  ASSERT_TRUE(eventually([&] {
    return harness_.get(too_many).reason() == v1::REASON_NO_MATCHING_GPUS &&
           harness_.get(wrong_type).reason() == v1::REASON_NO_MATCHING_GPUS &&
           harness_.get(fits).state() == v1::JOB_STARTING;
  }));
  wait_for_starts(worker, fits, 1, 2);
  EXPECT_EQ(worker.assignments().at({fits, 1, 0}).backend(), "nccl");
}

}  // namespace
}  // namespace gradpool::testing
