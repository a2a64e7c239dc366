// Backfill and small pools: the head's reservation, and gangs that must not starve behind
// streams of 1-GPU jobs. Several tests run passes in a row, as the coordinator does, starting and
// ending ranks between them.
#include <algorithm>

#include <gtest/gtest.h>

#include "coordinator/scheduler/scheduler.h"
#include "tests/scheduler/scheduler_test_util.h"

namespace gradpool::sched {
namespace {

using fixtures::job;
using fixtures::job_of_type;
using fixtures::kA100;
using fixtures::kH100;
using fixtures::placed_ids;
using fixtures::placement_of;
using fixtures::RanksAre;
using fixtures::reason_of;
using fixtures::refs;
using fixtures::worker;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Head: 4 A100s with only two free. It reserves those two; H100 slots stay open to others.
std::vector<WorkerView> half_busy_a100_and_free_h100() {
  return {worker("a100", 4, kA100, 80, {0, 1}), worker("h100", 4, kH100)};
}

QueuedJob urgent(QueuedJob queued) {
  queued.priority = 1;
  return queued;
}

TEST(SchedulerBackfill, LaterJobsUseOnlySlotsTheHeadCannotUse) {
  const auto decision =
      schedule(half_busy_a100_and_free_h100(),
               {urgent(job_of_type(1, 4, "a100")), job(2, 1), job_of_type(3, 1, "a100"),
                job_of_type(4, 2, "h100"), job_of_type(5, 4, "h100")},
               {}, {});
  EXPECT_EQ(reason_of(decision, 1), PendingReason::kWaitingForGpus);
  EXPECT_THAT(placement_of(decision, 2), RanksAre(refs({{"h100", 0}})));
  EXPECT_EQ(reason_of(decision, 3), PendingReason::kPriority) << "would fit but for the head";
  EXPECT_THAT(placement_of(decision, 4), RanksAre(refs({{"h100", 1}, {"h100", 2}})));
  EXPECT_EQ(reason_of(decision, 5), PendingReason::kWaitingForGpus) << "too few H100s anyway";
}

TEST(SchedulerBackfill, OnlyTheFirstBlockedJobReserves) {
  // Job 2 (four H100s, three free) is blocked too, but job 3 may still take an H100.
  std::vector<WorkerView> pool = half_busy_a100_and_free_h100();
  pool[1].slots[3].busy = true;
  const auto decision = schedule(pool,
                                 {urgent(job_of_type(1, 4, "a100")),
                                  urgent(job_of_type(2, 4, "h100")), job_of_type(3, 1, "h100")},
                                 {}, {});
  EXPECT_EQ(reason_of(decision, 1), PendingReason::kWaitingForGpus);
  EXPECT_EQ(reason_of(decision, 2), PendingReason::kWaitingForGpus);
  EXPECT_THAT(placed_ids(decision), ElementsAre(3));
}

TEST(SchedulerBackfill, WithBackfillOffNothingStartsBehindTheHead) {
  Policy policy;
  policy.backfill = false;
  const auto decision = schedule(
      half_busy_a100_and_free_h100(),
      {urgent(job_of_type(1, 4, "a100")), job_of_type(2, 1, "h100"), job(3, 7)}, {}, policy);
  EXPECT_THAT(decision.placements, IsEmpty());
  EXPECT_EQ(reason_of(decision, 2), PendingReason::kPriority);
  EXPECT_EQ(reason_of(decision, 3), PendingReason::kWaitingForGpus);
}

TEST(SchedulerBackfill, TheHeadIsNeverDelayedByLaterJobs) {
  // One 4-GPU worker, three slots held by running ranks that end one per pass; a 1-GPU job is
  // submitted every pass. Without the reservation each freed slot would go to a small job.
  std::vector<WorkerView> pool = {worker("w", 4, kA100, 80, {0, 1, 2})};
  std::vector<QueuedJob> queue = {urgent(job(1, 4))};
  for (int pass = 0; pass < 4; ++pass) {
    queue.push_back(job(10 + pass, 1));
    const auto decision = schedule(pool, queue, {}, {});
    if (pass < 3) {
      EXPECT_THAT(decision.placements, IsEmpty()) << "pass " << pass;
      EXPECT_EQ(reason_of(decision, 1), PendingReason::kWaitingForGpus);
      EXPECT_EQ(reason_of(decision, 10), PendingReason::kPriority);
      pool[0].slots[pass].busy = false;  // a running rank exits
    } else {
      EXPECT_THAT(placed_ids(decision), ElementsAre(1));
      EXPECT_THAT(placement_of(decision, 1),
                  RanksAre(refs({{"w", 0}, {"w", 1}, {"w", 2}, {"w", 3}})));
    }
  }
}

TEST(SchedulerSmallPool, TwoGpuJobRunsOnThreeOneGpuWorkers) {
  const auto decision = schedule({worker("w1", 1), worker("w2", 1), worker("w3", 1)},
                                 {job(1, 2), job(2, 1), job(3, 1)}, {}, {});
  EXPECT_THAT(placement_of(decision, 1), RanksAre(refs({{"w1", 0}, {"w2", 0}})));
  EXPECT_THAT(placement_of(decision, 2), RanksAre(refs({{"w3", 0}})));
  EXPECT_EQ(reason_of(decision, 3), PendingReason::kWaitingForGpus);
}

TEST(SchedulerSmallPool, TwoGpuJobIsNotStarvedByLaterOneGpuJobsOnThreeWorkers) {
  // All three GPUs run 1-GPU jobs that end one per pass; every pass a new 1-GPU job arrives.
  std::vector<WorkerView> pool = {worker("w1", 1, kA100, 80, {0}), worker("w2", 1, kA100, 80, {0}),
                                  worker("w3", 1, kA100, 80, {0})};
  std::vector<QueuedJob> queue = {job(1, 2)};
  for (int pass = 0; pass < 3; ++pass) {
    queue.push_back(job(10 + pass, 1));
    const auto decision = schedule(pool, queue, {}, {});
    if (pass < 2) {
      EXPECT_THAT(decision.placements, IsEmpty()) << "pass " << pass;
      pool[pass].slots[0].busy = false;
    } else {
      EXPECT_THAT(placed_ids(decision), ElementsAre(1));
      EXPECT_THAT(placement_of(decision, 1), RanksAre(refs({{"w1", 0}, {"w2", 0}})));
    }
  }
}

TEST(SchedulerSmallPool, OnePlusTwoPoolFitsTheGangOnTheTwoGpuWorker) {
  const std::vector<WorkerView> pool = {worker("one", 1), worker("two", 2)};
  // Either order: best fit keeps the pair together and leaves the single GPU to the 1-GPU job.
  for (const bool gang_first : {true, false}) {
    QueuedJob gang = job(1, 2);
    QueuedJob single = job(2, 1);
    (gang_first ? gang : single).priority = 1;
    const auto decision = schedule(pool, {gang, single, job(3, 1)}, {}, {});
    EXPECT_THAT(placement_of(decision, 1), RanksAre(refs({{"two", 0}, {"two", 1}})));
    EXPECT_THAT(placement_of(decision, 2), RanksAre(refs({{"one", 0}})));
    EXPECT_EQ(reason_of(decision, 3), PendingReason::kWaitingForGpus);
  }
}

TEST(SchedulerSmallPool, OnePlusTwoPoolWithABusySlotSpansBothWorkers) {
  const auto decision = schedule({worker("one", 1), worker("two", 2, kA100, 80, {0})},
                                 {job(1, 2), job(2, 1)}, {}, {});
  EXPECT_THAT(placement_of(decision, 1), RanksAre(refs({{"one", 0}, {"two", 1}})));
  EXPECT_EQ(reason_of(decision, 2), PendingReason::kWaitingForGpus);
}

TEST(SchedulerSmallPool, RunningGangsThenSinglesDrainTheQueue) {
  // Pool 1+2; queue of 2-GPU and 1-GPU jobs in arrival order; each pass every running job ends.
  // Every job must eventually run, in order of submission for its own size.
  std::vector<WorkerView> pool = {worker("one", 1), worker("two", 2)};
  std::vector<QueuedJob> queue = {job(1, 2), job(2, 1), job(3, 2), job(4, 1), job(5, 2)};
  std::vector<uint64_t> started;
  for (int pass = 0; pass < 5 && !queue.empty(); ++pass) {
    const auto decision = schedule(pool, queue, {}, {});
    ASSERT_FALSE(decision.placements.empty()) << "pass " << pass << " placed nothing";
    for (const Placement& placement : decision.placements) {
      started.push_back(placement.job_id);
      queue.erase(std::find_if(queue.begin(), queue.end(),
                               [&](const QueuedJob& q) { return q.id == placement.job_id; }));
    }
  }
  EXPECT_THAT(started, ElementsAre(1, 2, 3, 4, 5));
}

}  // namespace
}  // namespace gradpool::sched
