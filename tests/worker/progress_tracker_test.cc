// ProgressTracker: the report events of docs/service.md into v1::Progress.
#include "worker/daemon/progress_tracker.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace gradpool {
namespace {

std::string step_event(int step, int64_t tokens, double step_s) {
  return fmt::format(
      R"({{"event":"step","step":{},"total_steps":100,"loss":2.31,"lr":0.0002,"grad_norm":0.8,)"
      R"("tokens":{},"local_tokens":{},"samples":16,"step_s":{},"allreduce_s":0.02,)"
      R"("skipped":false}})",
      step, tokens, tokens / 2, step_s);
}

TEST(ProgressTracker, FollowsTheEventsOfARun) {
  ProgressTracker tracker;
  ASSERT_TRUE(tracker.apply(R"({"event":"start","rank":0,"world_size":2,"step":20,)"
                            R"("total_steps":100})"));
  EXPECT_EQ(tracker.progress().step(), 20);
  EXPECT_EQ(tracker.progress().total_steps(), 100);
  EXPECT_GT(tracker.progress().updated_ms(), 0);

  ASSERT_TRUE(tracker.apply(step_event(21, 8192, 0.5)));
  const v1::Progress& p = tracker.progress();
  EXPECT_EQ(p.step(), 21);
  EXPECT_DOUBLE_EQ(p.loss(), 2.31);
  EXPECT_DOUBLE_EQ(p.learning_rate(), 0.0002);
  EXPECT_DOUBLE_EQ(p.grad_norm(), 0.8);
  EXPECT_EQ(p.tokens(), 8192);
  EXPECT_DOUBLE_EQ(p.tokens_per_second(), 8192 / 0.5);

  ASSERT_TRUE(tracker.apply(step_event(22, 4096, 1.5)));
  EXPECT_EQ(tracker.progress().tokens(), 8192 + 4096);  // cumulative
  EXPECT_DOUBLE_EQ(tracker.progress().tokens_per_second(), (8192 + 4096) / 2.0);

  ASSERT_TRUE(tracker.apply(R"({"event":"checkpoint","step":22,"seconds":0.12})"));
  EXPECT_EQ(tracker.progress().checkpoint_step(), 22);
  EXPECT_EQ(tracker.progress().step(), 22);

  ASSERT_TRUE(tracker.apply(R"({"event":"done","step":100})"));
  EXPECT_EQ(tracker.progress().step(), 100);
  EXPECT_EQ(tracker.progress().checkpoint_step(), 22);
}

TEST(ProgressTracker, TokensPerSecondAveragesTheLastSteps) {
  ProgressTracker tracker;
  ASSERT_TRUE(tracker.apply(step_event(1, 1000, 100.0)));  // a slow first step (warm-up)
  for (int step = 2; step <= 11; ++step) ASSERT_TRUE(tracker.apply(step_event(step, 1000, 1.0)));
  EXPECT_DOUBLE_EQ(tracker.progress().tokens_per_second(), 1000.0);  // it left the window
  EXPECT_EQ(tracker.progress().tokens(), 11000);
}

TEST(ProgressTracker, IgnoresWhatIsNotAnEvent) {
  ProgressTracker tracker;
  ASSERT_TRUE(tracker.apply(step_event(5, 100, 1.0)));
  const std::string before = tracker.progress().SerializeAsString();
  for (const char* line : {"", "not json", "[1,2]", R"({"step":9})", R"({"event":7})",
                           R"({"event":"unknown","step":9})", R"({"event":"step","step":)"})
    EXPECT_FALSE(tracker.apply(line)) << line;
  EXPECT_EQ(tracker.progress().SerializeAsString(), before);
}

TEST(ProgressTracker, KeepsFieldsThatAreMissingOrMistyped) {
  ProgressTracker tracker;
  ASSERT_TRUE(tracker.apply(step_event(5, 100, 1.0)));
  // A non-finite loss arrives as null; a string step is not a step.
  ASSERT_TRUE(tracker.apply(R"({"event":"step","step":"six","loss":null,"tokens":50})"));
  EXPECT_EQ(tracker.progress().step(), 5);
  EXPECT_DOUBLE_EQ(tracker.progress().loss(), 2.31);
  EXPECT_EQ(tracker.progress().tokens(), 150);
  EXPECT_DOUBLE_EQ(tracker.progress().tokens_per_second(), 100.0);  // no step_s: no new rate
}

}  // namespace
}  // namespace gradpool
