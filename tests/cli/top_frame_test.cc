// The frame of `gradpool top`: the pool header, the running jobs with their progress and ETA, the
// queue, and how the frame fits a terminal's width and height.
#include "cli/top_frame.h"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "cli/table.h"

namespace gradpool::cli {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// The line holding `part`, "" when none does.
std::string line_with(const std::string& text, const std::string& part) {
  for (const std::string& line : lines_of(text))
    if (line.find(part) != std::string::npos) return line;
  return "";
}

void add_worker(TopSnapshot& snapshot, const std::string& id, v1::WorkerState state,
                const std::string& gpu, int gpus, std::vector<int> busy) {
  v1::Worker* worker = snapshot.workers.add_workers();
  worker->set_id(id);
  worker->set_state(state);
  for (int i = 0; i < gpus; ++i) {
    v1::Gpu* slot = worker->add_gpus();
    slot->set_index(i);
    slot->set_name(gpu);
  }
  for (int slot : busy) worker->add_busy_slots(slot);
}

// A job 12m34s into its first attempt at `step` of 100, 400 tokens a step at 400 tokens/s.
v1::Job* add_running(TopSnapshot& snapshot, uint64_t id, const std::string& name, int64_t step) {
  v1::Job* job = snapshot.jobs.add_jobs();
  job->set_id(id);
  job->set_user("alice");
  job->set_name(name);
  job->set_state(v1::JOB_RUNNING);
  job->set_gpus(2);
  job->set_attempt(1);
  job->set_submit_ms(kNow - 800'000);
  job->set_start_ms(kNow - 754'000);
  v1::Progress* progress = job->mutable_progress();
  progress->set_step(step);
  progress->set_total_steps(100);
  progress->set_loss(2.3141);
  progress->set_tokens(step * 400);
  progress->set_tokens_per_second(400);
  progress->set_updated_ms(kNow - 500);
  return job;
}

v1::Job* add_queued(TopSnapshot& snapshot, uint64_t id, int position, v1::PendingReason reason) {
  v1::Job* job = snapshot.jobs.add_jobs();
  job->set_id(id);
  job->set_user("bob");
  job->set_name("waiting-" + std::to_string(id));
  job->set_state(v1::JOB_QUEUED);
  job->set_gpus(4);
  job->set_queue_position(position);
  job->set_reason(reason);
  job->set_submit_ms(kNow - 65'000);
  return job;
}

TEST(TopFrame, HeaderCountsWorkersGpusByModelAndJobs) {
  TopSnapshot snapshot;
  snapshot.coordinator = "10.0.0.1:7070";
  add_worker(snapshot, "a", v1::WORKER_UP, "NVIDIA A100-SXM4-80GB", 2, {0});
  add_worker(snapshot, "b", v1::WORKER_UP, "cpu", 2, {});
  add_worker(snapshot, "c", v1::WORKER_LOST, "NVIDIA A100-SXM4-80GB", 4, {0, 1});
  add_running(snapshot, 1, "one", 10);
  add_running(snapshot, 2, "two", 0)->set_state(v1::JOB_STARTING);
  add_queued(snapshot, 3, 1, v1::REASON_WAITING_FOR_GPUS);
  const std::vector<std::string> lines =
      lines_of(top_frame(snapshot, StepRates(), FrameSize{}, kNow));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("gradpool top   coordinator 10.0.0.1:7070", 0), 0u) << lines[0];
  // The lost worker's GPUs are not the pool's.
  EXPECT_EQ(lines[1], "workers: 2 up, 1 lost   gpus: 1/4 busy (1/2 A100-SXM4-80GB, 0/2 cpu)");
  EXPECT_EQ(lines[2], "jobs: 1 running, 1 starting, 1 queued");
}

TEST(TopFrame, RunningJobShowsStepBarLossRateEtaAndRuntime) {
  TopSnapshot snapshot;
  add_running(snapshot, 7, "fortunes", 50);
  const std::string frame = top_frame(snapshot, StepRates(), FrameSize{}, kNow);
  const std::string header = line_with(frame, "STEP/TOTAL");
  const std::string row = line_with(frame, "fortunes");
  EXPECT_NE(header.find("PROGRESS"), std::string::npos) << frame;
  EXPECT_NE(header.find("ETA"), std::string::npos) << frame;
  // 50 steps left at 400 tokens a step and 400 tokens/s: 50 s.
  for (const char* cell : {"alice", "50/100", "[#####.....]  50%", "2.314", "400", "50s", "12m34s"})
    EXPECT_NE(row.find(cell), std::string::npos) << cell << " in\n" << frame;
}

TEST(TopFrame, StartingJobHasNoFiguresYet) {
  TopSnapshot snapshot;
  v1::Job* job = add_running(snapshot, 9, "warming-up", 0);
  job->set_state(v1::JOB_STARTING);
  job->clear_progress();
  const std::string row = line_with(top_frame(snapshot, StepRates(), FrameSize{}, kNow), "warm");
  EXPECT_NE(row.find("starting"), std::string::npos) << row;
  EXPECT_EQ(row.find('['), std::string::npos) << row;
  EXPECT_EQ(row.find("50s"), std::string::npos) << row;
}

TEST(TopFrame, EtaFromTokensPerSecondOnTheFirstAttempt) {
  TopSnapshot snapshot;
  v1::Job* job = add_running(snapshot, 1, "x", 20);
  job->mutable_progress()->set_tokens_per_second(800);  // 0.5 s a step, 80 steps left
  EXPECT_EQ(eta_ms(*job, std::nullopt), 40'000);
  job->mutable_progress()->set_step(100);
  EXPECT_EQ(eta_ms(*job, std::nullopt), 0);
}

TEST(TopFrame, EtaOfARestartedAttemptNeedsTheObservedStepRate) {
  TopSnapshot snapshot;
  v1::Job* job = add_running(snapshot, 1, "x", 60);
  job->set_attempt(2);  // resumed at a checkpoint: its tokens do not cover every step
  EXPECT_EQ(eta_ms(*job, std::nullopt), std::nullopt);
  EXPECT_EQ(eta_ms(*job, 2.0), 20'000);  // 40 steps at 2 a second
  job->clear_progress();
  EXPECT_EQ(eta_ms(*job, 2.0), std::nullopt);  // no total to count down to
}

TEST(TopFrame, StepRatesMeasureEachAttemptFromItsFirstObservation) {
  TopSnapshot snapshot;
  v1::Job* job = add_running(snapshot, 5, "x", 10);
  job->set_attempt(2);
  StepRates rates;
  rates.observe(snapshot.jobs.jobs());
  EXPECT_EQ(rates.steps_per_second(5), std::nullopt);  // one observation is no rate
  job->mutable_progress()->set_step(30);
  job->mutable_progress()->set_updated_ms(job->progress().updated_ms() + 10'000);
  rates.observe(snapshot.jobs.jobs());
  EXPECT_DOUBLE_EQ(*rates.steps_per_second(5), 2.0);
  // The frame uses it for the ETA: 70 steps at 2 a second.
  EXPECT_NE(line_with(top_frame(snapshot, rates, FrameSize{}, kNow), "alice").find("35s"),
            std::string::npos);

  job->set_attempt(3);  // a new attempt starts over
  rates.observe(snapshot.jobs.jobs());
  EXPECT_EQ(rates.steps_per_second(5), std::nullopt);
  snapshot.jobs.clear_jobs();  // gone from the list: forgotten
  rates.observe(snapshot.jobs.jobs());
  EXPECT_EQ(rates.steps_per_second(5), std::nullopt);
}

TEST(TopFrame, QueueIsInPositionOrderWithReasons) {
  TopSnapshot snapshot;
  add_queued(snapshot, 30, 0, v1::REASON_NONE);  // not scheduled yet: last
  add_queued(snapshot, 20, 2, v1::REASON_QUOTA);
  add_queued(snapshot, 10, 1, v1::REASON_WAITING_FOR_GPUS);
  const std::string frame = top_frame(snapshot, StepRates(), FrameSize{}, kNow);
  EXPECT_NE(frame.find("no jobs running"), std::string::npos) << frame;
  const size_t first = frame.find("waiting-10"), second = frame.find("waiting-20"),
               third = frame.find("waiting-30");
  ASSERT_NE(third, std::string::npos) << frame;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  const std::string row = line_with(frame, "waiting-20");
  for (const char* cell : {"#2", "bob", "quota", "1m05s"})
    EXPECT_NE(row.find(cell), std::string::npos) << cell << " in " << row;
  EXPECT_NE(line_with(frame, "waiting-10").find("gpus busy"), std::string::npos) << frame;
}

TEST(TopFrame, FitsTheWidthDroppingBarsThenCuttingNames) {
  TopSnapshot snapshot;
  add_worker(snapshot, "a", v1::WORKER_UP, "NVIDIA GeForce GTX 1080", 8, {0, 1, 2});
  add_running(snapshot, 123, "a-long-job-name-that-would-not-fit-on-a-narrow-terminal", 42);
  add_queued(snapshot, 124, 1, v1::REASON_NO_MATCHING_GPUS);
  const std::string wide = top_frame(snapshot, StepRates(), FrameSize{200, 0}, kNow);
  EXPECT_NE(wide.find("a-long-job-name-that-would-not-fit-on-a-narrow-terminal"),
            std::string::npos);
  EXPECT_NE(wide.find("[####"), std::string::npos) << wide;
  for (size_t width : {100, 80, 60, 40, 20}) {
    const std::string frame = top_frame(snapshot, StepRates(), FrameSize{width, 0}, kNow);
    for (const std::string& line : lines_of(frame))
      EXPECT_LE(display_width(line), width) << "width " << width << ":\n" << frame;
  }
  const std::string narrow = top_frame(snapshot, StepRates(), FrameSize{80, 0}, kNow);
  EXPECT_EQ(narrow.find("[####"), std::string::npos) << narrow;
  EXPECT_NE(narrow.find("42/100"), std::string::npos) << narrow;
  EXPECT_NE(narrow.find("a-long-job"), std::string::npos) << narrow;
  EXPECT_NE(narrow.find("…"), std::string::npos) << narrow;
}

TEST(TopFrame, FitsTheHeightSayingHowManyJobsAreNotShown) {
  TopSnapshot snapshot;
  for (uint64_t id = 1; id <= 30; ++id) add_running(snapshot, id, "run-" + std::to_string(id), 5);
  for (uint64_t id = 31; id <= 40; ++id) add_queued(snapshot, id, static_cast<int>(id - 30), {});
  const std::string frame = top_frame(snapshot, StepRates(), FrameSize{120, 20}, kNow);
  const std::vector<std::string> lines = lines_of(frame);
  EXPECT_EQ(lines.size(), 20u) << frame;
  const size_t running_shown = count(frame, "alice"), queued_shown = count(frame, "bob");
  EXPECT_GT(running_shown, 0u);
  EXPECT_GT(queued_shown, 0u);
  EXPECT_NE(frame.find(fmt::format("… {} more running jobs", 30 - running_shown)),
            std::string::npos)
      << frame;
  EXPECT_NE(frame.find(fmt::format("… {} more queued jobs", 10 - queued_shown)), std::string::npos)
      << frame;

  // Without a height everything is there; a tiny one still holds the header.
  const std::string whole = top_frame(snapshot, StepRates(), FrameSize{120, 0}, kNow);
  EXPECT_EQ(count(whole, "alice"), 30u);
  EXPECT_EQ(count(whole, "bob"), 10u);
  EXPECT_EQ(whole.find("more"), std::string::npos);
  EXPECT_EQ(lines_of(top_frame(snapshot, StepRates(), FrameSize{120, 2}, kNow)).size(), 2u);
}

TEST(TopFrame, SaysWhenTheLatestRefreshFailed) {
  TopSnapshot snapshot;
  snapshot.fetched_ms = kNow - 7'000;
  snapshot.problem = "UNAVAILABLE: connection refused";
  const std::string frame = top_frame(snapshot, StepRates(), FrameSize{}, kNow);
  EXPECT_NE(frame.find("! UNAVAILABLE: connection refused (showing what was fetched 7s ago)"),
            std::string::npos)
      << frame;
}

}  // namespace
}  // namespace gradpool::cli
