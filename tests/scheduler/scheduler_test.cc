// The scheduling policy of scheduler.h, one rule at a time, on small hand-built pools.
#include "coordinator/scheduler/scheduler.h"

#include <gtest/gtest.h>

#include "tests/scheduler/scheduler_test_util.h"

namespace gradpool::sched {
namespace {

using fixtures::job;
using fixtures::job_of_type;
using fixtures::kA100;
using fixtures::kGtx1080;
using fixtures::kH100;
using fixtures::pending_ids;
using fixtures::pending_of;
using fixtures::placed_ids;
using fixtures::placement_of;
using fixtures::RanksAre;
using fixtures::reason_of;
using fixtures::refs;
using fixtures::worker;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(SchedulerMatching, GpuTypeIsACaseInsensitiveSubstringAndAnyMatchesAll) {
  const Slot a100{0, kA100, 80, false};
  EXPECT_TRUE(slot_matches(a100, "a100", 0));
  EXPECT_TRUE(slot_matches(a100, "A100-SXM4", 0));
  EXPECT_TRUE(slot_matches(a100, "any", 0));
  EXPECT_TRUE(slot_matches(a100, "ANY", 0));
  EXPECT_TRUE(slot_matches(Slot{0, "cpu", 0, false}, "any", 0));
  EXPECT_FALSE(slot_matches(a100, "h100", 0));
  EXPECT_FALSE(slot_matches(a100, "a100 ", 0));
}

TEST(SchedulerMatching, MemoryIsAMinimumPerGpu) {
  const Slot a100{0, kA100, 80, false};
  EXPECT_TRUE(slot_matches(a100, "any", 80));
  EXPECT_FALSE(slot_matches(a100, "any", 80.5));
  EXPECT_FALSE(slot_matches(a100, "a100", 81));
}

TEST(SchedulerQuota, UserQuotaOverridesTheDefault) {
  Policy policy;
  policy.default_quota = 4;
  policy.user_quota["bob"] = 16;
  EXPECT_EQ(quota_of(policy, "bob"), 16);
  EXPECT_EQ(quota_of(policy, "alice"), 4);
}

TEST(SchedulerGang, AJobGetsAllItsGpusOrNone) {
  const auto decision = schedule({worker("w1", 2, kA100, 80, {0}), worker("w2", 2)},
                                 {job_of_type(1, 4, "a100")}, {}, {});
  EXPECT_THAT(decision.placements, IsEmpty());
  EXPECT_EQ(reason_of(decision, 1), PendingReason::kWaitingForGpus);
}

TEST(SchedulerGang, AGangSpansWorkersWhenNoneHoldsItAlone) {
  const auto decision = schedule({worker("w1", 2), worker("w2", 2)}, {job(1, 4)}, {}, {});
  EXPECT_THAT(placement_of(decision, 1),
              RanksAre(refs({{"w1", 0}, {"w1", 1}, {"w2", 0}, {"w2", 1}})));
}

TEST(SchedulerGang, OnlySlotsOfTheRightTypeAndMemoryAreUsed) {
  const std::vector<WorkerView> pool = {worker("gtx", 4, kGtx1080, 8), worker("h100", 2, kH100),
                                        worker("a100-40", 2, kA100, 40), worker("a100", 2)};
  const auto decision = schedule(
      pool,
      {job_of_type(1, 2, "h100"), job_of_type(2, 2, "A100", 80), job_of_type(3, 1, "gtx 1080")}, {},
      {});
  EXPECT_THAT(placement_of(decision, 1), RanksAre(refs({{"h100", 0}, {"h100", 1}})));
  EXPECT_THAT(placement_of(decision, 2), RanksAre(refs({{"a100", 0}, {"a100", 1}})));
  EXPECT_THAT(placement_of(decision, 3), RanksAre(refs({{"gtx", 0}})));
}

TEST(SchedulerGang, LostWorkersAreIgnored) {
  std::vector<WorkerView> pool = {worker("lost", 8), worker("up", 1)};
  pool[0].up = false;
  const auto decision = schedule(pool, {job(1, 2), job(2, 1), job(3, 1)}, {}, {});
  EXPECT_EQ(reason_of(decision, 1), PendingReason::kNoMatchingGpus);
  EXPECT_THAT(placement_of(decision, 2), RanksAre(refs({{"up", 0}})));
  EXPECT_EQ(reason_of(decision, 3), PendingReason::kWaitingForGpus);
}

TEST(SchedulerPlacement, BestFitTakesTheWorkerWithFewestFreeSlotsThatHoldsTheGang) {
  const auto decision =
      schedule({worker("eight", 8), worker("two", 4, kA100, 80, {0, 3}), worker("four", 4)},
               {job(1, 2)}, {}, {});
  EXPECT_THAT(placement_of(decision, 1), RanksAre(refs({{"two", 1}, {"two", 2}})));
}

TEST(SchedulerPlacement, OtherwiseTheLargestWorkersFirstAndLowestSlotsFirst) {
  // Free: a 2, b 4, c 3. Six GPUs: all of b, then the lowest two of c.
  const auto decision = schedule({worker("a", 2), worker("b", 4), worker("c", 4, kA100, 80, {0})},
                                 {job(1, 6)}, {}, {});
  EXPECT_THAT(placement_of(decision, 1),
              RanksAre(refs({{"b", 0}, {"b", 1}, {"b", 2}, {"b", 3}, {"c", 1}, {"c", 2}})));
}

TEST(SchedulerPlacement, SlotsListedOutOfOrderAreTakenLowestIndexFirst) {
  WorkerView view = worker("w", 0);
  view.slots = {{3, kA100, 80, false}, {1, kA100, 80, false}, {2, kA100, 80, true}};
  const auto decision = schedule({view}, {job(1, 2)}, {}, {});
  EXPECT_THAT(placement_of(decision, 1), RanksAre(refs({{"w", 1}, {"w", 3}})));
}

TEST(SchedulerPlacement, OnAMixedWorkerOnlyTheMatchingSlotsAreTaken) {
  WorkerView view = worker("mixed", 0);
  view.slots = {{0, kGtx1080, 8, false},
                {1, kA100, 80, false},
                {2, kGtx1080, 8, false},
                {3, kA100, 80, false}};
  const auto decision =
      schedule({view}, {job_of_type(1, 2, "a100"), job_of_type(2, 1, "gtx")}, {}, {});
  EXPECT_THAT(placement_of(decision, 1), RanksAre(refs({{"mixed", 1}, {"mixed", 3}})));
  EXPECT_THAT(placement_of(decision, 2), RanksAre(refs({{"mixed", 0}})));
}

TEST(SchedulerOrder, HigherPriorityFirst) {
  QueuedJob urgent = job(2, 1);
  urgent.priority = 5;
  const auto decision = schedule({worker("w", 1)}, {job(1, 1), urgent}, {}, {});
  EXPECT_THAT(placed_ids(decision), ElementsAre(2));
  EXPECT_THAT(pending_ids(decision), ElementsAre(1));
}

TEST(SchedulerOrder, AtEqualPriorityTheUserWithLessDecayedUsageFirst) {
  Usage usage;
  usage.decayed_gpu_seconds = {{"alice", 5000}, {"bob", 10}};
  const auto decision =
      schedule({worker("w", 1)}, {job(1, 1, "alice"), job(2, 1, "bob")}, usage, {});
  EXPECT_THAT(placed_ids(decision), ElementsAre(2));
}

TEST(SchedulerOrder, ThenOlderSubmitThenLowerId) {
  QueuedJob newest = job(1, 1);
  newest.submit_ms = 900;
  QueuedJob old_high_id = job(7, 1);
  old_high_id.submit_ms = 100;
  QueuedJob old_low_id = job(3, 1);
  old_low_id.submit_ms = 100;
  const auto decision = schedule({worker("w", 2)}, {newest, old_high_id, old_low_id}, {}, {});
  EXPECT_THAT(placed_ids(decision), ElementsAre(3, 7));
  EXPECT_THAT(pending_ids(decision), ElementsAre(1));
}

TEST(SchedulerOrder, PositionsCountQueuedJobsInSchedulingOrderFromOne) {
  QueuedJob urgent = job(9, 1);
  urgent.priority = 1;
  const auto decision =
      schedule({worker("w", 1)}, {job(1, 1), job(2, 1), job(3, 1), urgent}, {}, {});
  EXPECT_THAT(placed_ids(decision), ElementsAre(9));
  ASSERT_THAT(pending_ids(decision), ElementsAre(1, 2, 3));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(decision.pending[i].position, i + 1);
}

TEST(SchedulerQuota, AJobOverQuotaWaitsAndDoesNotBlockOthers) {
  Policy policy;
  policy.user_quota["alice"] = 4;
  Usage usage;
  usage.gpus_in_use["alice"] = 3;
  QueuedJob alice = job(1, 2, "alice");
  alice.priority = 9;
  const auto decision = schedule({worker("w", 8)}, {alice, job(2, 8, "bob")}, usage, policy);
  EXPECT_EQ(reason_of(decision, 1), PendingReason::kQuota);
  EXPECT_NE(placement_of(decision, 2), nullptr) << "an over-quota job must not reserve slots";
}

TEST(SchedulerQuota, PlacementsOfThisPassCountTowardTheQuota) {
  Policy policy;
  policy.default_quota = 3;
  const auto decision = schedule(
      {worker("w", 8)},
      {job(1, 2, "alice"), job(2, 2, "alice"), job(3, 1, "alice"), job(4, 3, "bob")}, {}, policy);
  EXPECT_THAT(placed_ids(decision), ElementsAre(1, 3, 4));
  EXPECT_EQ(reason_of(decision, 2), PendingReason::kQuota);
}

TEST(SchedulerQuota, ZeroMeansUnlimited) {
  Usage usage;
  usage.gpus_in_use["alice"] = 1000;
  const auto decision = schedule({worker("w", 8)}, {job(1, 8)}, usage, {});
  EXPECT_NE(placement_of(decision, 1), nullptr);
}

TEST(SchedulerReasons, NoMatchingGpusWhenNoUpWorkersCouldEverHoldTheJob) {
  // Eight A100s, all busy: an 8-GPU job waits for them, a 9-GPU or H100 job never fits.
  const std::vector<WorkerView> pool = {worker("w1", 4, kA100, 80, {0, 1, 2, 3}),
                                        worker("w2", 4, kA100, 80, {0, 1, 2, 3}),
                                        worker("gtx", 1, kGtx1080, 8)};
  const auto decision =
      schedule(pool,
               {job_of_type(1, 9, "a100"), job_of_type(2, 1, "h100"), job_of_type(3, 1, "any", 40),
                job_of_type(4, 0, "any"), job_of_type(5, 8, "a100"), job_of_type(6, 1, "gtx")},
               {}, {});
  EXPECT_EQ(reason_of(decision, 1), PendingReason::kNoMatchingGpus);
  EXPECT_EQ(reason_of(decision, 2), PendingReason::kNoMatchingGpus);
  EXPECT_EQ(reason_of(decision, 4), PendingReason::kNoMatchingGpus);
  EXPECT_EQ(reason_of(decision, 3), PendingReason::kWaitingForGpus);
  EXPECT_EQ(reason_of(decision, 5), PendingReason::kWaitingForGpus);
  // Job 3 is the head; it could use no GTX (8 GB), so job 6 backfills there.
  EXPECT_THAT(placement_of(decision, 6), RanksAre(refs({{"gtx", 0}})));
}

TEST(SchedulerReasons, NoMatchingGpusReservesNothing) {
  const auto decision = schedule({worker("w", 2)}, {job(1, 3), job(2, 2)}, {}, {});
  EXPECT_EQ(reason_of(decision, 1), PendingReason::kNoMatchingGpus);
  EXPECT_NE(placement_of(decision, 2), nullptr);
}

TEST(SchedulerReasons, AJobWhosePreviousAttemptIsStoppingWaitsAndReservesNothing) {
  QueuedJob restarting = job(1, 2);
  restarting.priority = 9;
  restarting.previous_attempt_stopping = true;
  const auto decision = schedule({worker("w", 2)}, {restarting, job(2, 2)}, {}, {});
  EXPECT_EQ(reason_of(decision, 1), PendingReason::kStoppingPrevious);
  EXPECT_EQ(pending_of(decision, 1)->position, 1);
  EXPECT_NE(placement_of(decision, 2), nullptr);
}

}  // namespace
}  // namespace gradpool::sched
