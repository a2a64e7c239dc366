// How jobs, workers and list flags turn into text and requests: the exact words users read.
#include "cli/format.h"

#include <gtest/gtest.h>

#include "cli/job_commands.h"
#include "cli/views.h"
#include "common/error.h"

namespace gradpool::cli {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

v1::Job queued_job(v1::PendingReason reason, int position) {
  v1::Job job;
  job.set_id(42);
  job.set_state(v1::JOB_QUEUED);
  job.set_reason(reason);
  job.set_queue_position(position);
  job.set_submit_ms(kNow - 90'000);
  return job;
}

TEST(CliFormat, StateTextNamesTheQueueReasonAndPosition) {
  EXPECT_EQ(state_text(queued_job(v1::REASON_QUOTA, 3)), "QUEUED (quota) #3");
  EXPECT_EQ(state_text(queued_job(v1::REASON_WAITING_FOR_GPUS, 1)), "QUEUED (gpus busy) #1");
  EXPECT_EQ(state_text(queued_job(v1::REASON_NO_MATCHING_GPUS, 0)), "QUEUED (no gpus fit)");
  EXPECT_EQ(state_text(queued_job(v1::REASON_NONE, 0)), "QUEUED");
  v1::Job running = queued_job(v1::REASON_QUOTA, 3);  // stale reason fields are not shown
  running.set_state(v1::JOB_RUNNING);
  EXPECT_EQ(state_text(running), "RUNNING");
}

TEST(CliFormat, StateNamesParseInAnyCase) {
  EXPECT_EQ(parse_state("queued"), v1::JOB_QUEUED);
  EXPECT_EQ(parse_state("Running"), v1::JOB_RUNNING);
  EXPECT_EQ(parse_state("CANCELLED"), v1::JOB_CANCELLED);
  EXPECT_FALSE(parse_state("done").has_value());
  EXPECT_FALSE(parse_state("").has_value());
  EXPECT_EQ(state_names(), "queued, starting, running, succeeded, failed, cancelled");
}

TEST(CliFormat, Durations) {
  EXPECT_EQ(duration_text(0), "0s");
  EXPECT_EQ(duration_text(45'999), "45s");
  EXPECT_EQ(duration_text(12 * 60'000 + 3'000), "12m03s");
  EXPECT_EQ(duration_text(3 * 3'600'000 + 4 * 60'000 + 59'000), "3h04m");
  EXPECT_EQ(duration_text(2 * 86'400'000 + 5 * 3'600'000), "2d05h");
  EXPECT_EQ(duration_text(-5'000), "0s");
}

TEST(CliFormat, JobTimeIsWaitRunOrTotalDependingOnState) {
  v1::Job job = queued_job(v1::REASON_PRIORITY, 2);
  EXPECT_EQ(job_time_text(job, kNow), "1m30s");  // waiting since submit
  job.set_state(v1::JOB_RUNNING);
  job.set_start_ms(kNow - 20'000);
  EXPECT_EQ(job_time_text(job, kNow), "20s");  // running since placed
  job.set_state(v1::JOB_SUCCEEDED);
  job.set_end_ms(job.start_ms() + 3'725'000);
  EXPECT_EQ(job_time_text(job, kNow + 999'999), "1h02m");  // start to end, whatever now is
  v1::Job never_started = queued_job(v1::REASON_QUOTA, 1);
  never_started.set_state(v1::JOB_CANCELLED);
  never_started.set_end_ms(never_started.submit_ms() + 5'000);
  EXPECT_EQ(job_time_text(never_started, kNow), "5s");
}

TEST(CliFormat, ProgressFigures) {
  v1::Progress progress;
  EXPECT_EQ(step_text(progress), "-");
  EXPECT_EQ(loss_text(progress), "-");
  progress.set_step(12);
  progress.set_total_steps(100);
  progress.set_loss(2.31449);
  EXPECT_EQ(step_text(progress), "12/100");
  EXPECT_EQ(loss_text(progress), "2.314");
  EXPECT_EQ(rate_text(0), "-");
  EXPECT_EQ(rate_text(950.4), "950");
  EXPECT_EQ(rate_text(8'240), "8.2k");
  EXPECT_EQ(rate_text(1'300'000), "1.3M");
  EXPECT_EQ(bytes_text(512), "512 B");
  EXPECT_EQ(bytes_text(1536 * 1024), "1.5 MiB");
  EXPECT_EQ(progress_bar(0.5, 10), "[#####.....]");
  EXPECT_EQ(progress_bar(2.0, 4), "[####]");
}

TEST(CliFormat, WorkerSlotsAreGroupedByModel) {
  v1::Worker worker;
  EXPECT_EQ(gpus_text(worker), "-");
  for (int i = 0; i < 2; ++i) worker.add_gpus()->set_name("cpu");
  EXPECT_EQ(gpus_text(worker), "2x cpu");
  v1::Worker mixed;
  for (const char* name : {"NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB", "NVIDIA T4"})
    mixed.add_gpus()->set_name(name);
  mixed.add_busy_slots(1);
  EXPECT_EQ(gpus_text(mixed), "2x A100-SXM4-80GB, 1x T4");
  EXPECT_EQ(busy_text(mixed), "1/3");
}

TEST(CliFormat, JobTableRow) {
  google::protobuf::RepeatedPtrField<v1::Job> jobs;
  v1::Job& job = *jobs.Add() = queued_job(v1::REASON_QUOTA, 3);
  job.set_user("alice");
  job.set_name("fortunes-lora");
  job.set_gpus(4);
  const std::string text = job_table(jobs, kNow).render(0);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "ID  USER   NAME           STATE              GPUS  STEP  LOSS  TOK/S  AGE/DURATION");
  EXPECT_EQ(text.substr(text.find('\n') + 1),
            "42  alice  fortunes-lora  QUEUED (quota) #3     4     -     -      -         1m30s\n");
}

TEST(CliFormat, JobDetailsShowEveryFieldAndTheRanks) {
  v1::Job job = queued_job(v1::REASON_NONE, 0);
  job.set_state(v1::JOB_FAILED);
  job.set_name("fortunes-lora");
  job.set_output("/results/alice/42-fortunes-lora");
  job.set_message("attempt 2: rank 1 on worker-b exited with 1: CUDA out of memory");
  job.mutable_progress()->set_step(50);
  job.mutable_progress()->set_total_steps(100);
  v1::Rank& rank = *job.add_ranks();
  rank.set_rank(1);
  rank.set_worker_id("worker-b");
  rank.set_state("EXITED");
  rank.set_exit_code(1);
  const std::string plain = job_details(job, kNow, false, 0);
  EXPECT_NE(plain.find("state:      FAILED"), std::string::npos) << plain;
  EXPECT_NE(plain.find("output:     /results/alice/42-fortunes-lora"), std::string::npos);
  EXPECT_NE(plain.find("CUDA out of memory"), std::string::npos);
  EXPECT_NE(plain.find("progress:   50% step 50/100"), std::string::npos) << plain;
  EXPECT_NE(plain.find("worker-b"), std::string::npos);
  EXPECT_EQ(plain.find("[#"), std::string::npos);  // no bar unless on a terminal
  EXPECT_NE(job_details(job, kNow, true, 0).find("[###############...............] 50%"),
            std::string::npos);
  const std::string queued = job_details(queued_job(v1::REASON_QUOTA, 3), kNow, false, 0);
  EXPECT_NE(queued.find("waiting:    its owner's GPU quota is in use"), std::string::npos)
      << queued;
}

TEST(CliListRequest, FlagsBecomeTheRequest) {
  ListArgs args;
  v1::ListJobsRequest request = make_list_request(args, "alice");
  EXPECT_EQ(request.user(), "");
  ASSERT_EQ(request.states_size(), 3);  // unfinished jobs by default
  EXPECT_EQ(request.states(0), v1::JOB_QUEUED);
  EXPECT_EQ(request.states(2), v1::JOB_RUNNING);

  args.all = true;
  args.limit = 5;
  request = make_list_request(args, "alice");
  EXPECT_EQ(request.states_size(), 0);
  EXPECT_EQ(request.limit(), 5);

  args.mine = true;
  args.states = "Failed,cancelled";
  request = make_list_request(args, "alice");
  EXPECT_EQ(request.user(), "alice");
  ASSERT_EQ(request.states_size(), 2);
  EXPECT_EQ(request.states(0), v1::JOB_FAILED);
  EXPECT_EQ(request.states(1), v1::JOB_CANCELLED);

  ListArgs other;
  other.user = "bob";
  EXPECT_EQ(make_list_request(other, "alice").user(), "bob");
}

TEST(CliListRequest, UnknownStateIsAnErrorNamingIt) {
  ListArgs args;
  args.states = "queued,finished";
  try {
    make_list_request(args, "alice");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "--state: unknown state 'finished' (known: queued, starting, running, succeeded, "
                 "failed, cancelled)");
  }
  ListArgs mine;
  mine.mine = true;
  EXPECT_THROW(make_list_request(mine, ""), Error);
}

}  // namespace
}  // namespace gradpool::cli
