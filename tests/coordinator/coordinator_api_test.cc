// The coordinator's API on loopback: who may call what, what Submit accepts and how it rewrites
// the spec, job arrays, registered datasets in assignments, the rendezvous and log streaming.
#include <gtest/gtest.h>

#include <future>

#include "tests/coordinator/coordinator_harness.h"

namespace gradpool::testing {
namespace {

class CoordinatorApiTest : public ::testing::Test {
 protected:
  CoordinatorApiTest() : harness_(::testing::UnitTest::GetInstance()->current_test_info()->name()) {
    harness_.options().quotas = {{"bob", 2}};
    harness_.start();
  }

  // A running job of alice's with `gpus` ranks on a fresh worker; returns its id.
  uint64_t running_job(FakeWorker& worker, int gpus = 1) {
    EXPECT_TRUE(worker.register_worker().ok());
    const uint64_t id = harness_.submit_ok(job_spec("running", gpus));
    EXPECT_TRUE(eventually([&] { return harness_.job_is(id, v1::JOB_STARTING, 1); }));
    worker.heartbeat_until([](const v1::HeartbeatResponse& r) { return r.start_size() > 0; });
    worker.heartbeat();
    EXPECT_EQ(harness_.get(id).state(), v1::JOB_RUNNING);
    return id;
  }

  CoordinatorHarness harness_;
};

TEST_F(CoordinatorApiTest, BadSpecIsRefusedNamingTheFieldAndStoresNothing) {
  std::vector<v1::Job> jobs;
  grpc::Status status = harness_.submit(harness_.alice, job_spec("bad") + "lora: {r: -4}\n", &jobs);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("job.yaml:"), std::string::npos) << describe(status);
  EXPECT_NE(status.error_message().find("lora.r"), std::string::npos) << describe(status);

  const std::vector<std::pair<std::string, std::string>> refused = {
      {"name: m\nmodel: models/tiny\ndataset: /d.jsonl\nsteps: 1\n", "model"},
      {"name: d\nmodel: /m\ndataset: nowhere\nsteps: 1\n", "dataset"},
      {"name: d\nmodel: /m\ndataset: data/x.jsonl\nsteps: 1\n", "dataset"},
      {"name: d\nmodel: /m\ndataset: /data/x.csv\nsteps: 1\n", "dataset"},
      {"name: p\nmodel: /m/../../etc\ndataset: /d.jsonl\nsteps: 1\n", "model"},
      {"name: o\nmodel: /m\ndataset: /d.jsonl\nsteps: 1\noutput: /r/../x\n", "output"},
  };
  for (const auto& [spec, field] : refused) {
    status = harness_.submit(harness_.alice, spec);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << spec;
    EXPECT_NE(status.error_message().find(field + ":"), std::string::npos) << describe(status);
  }
  status = harness_.submit(harness_.bob, job_spec("greedy", 3));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("resources.gpus"), std::string::npos) << describe(status);
  EXPECT_TRUE(harness_.list().empty());
}

TEST_F(CoordinatorApiTest, CallersNeedATokenAndTheRightRole) {
  EXPECT_EQ(harness_.submit("", job_spec("x")).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(harness_.submit("not-a-token", job_spec("x")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(harness_.submit(harness_.worker, job_spec("x")).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::HeartbeatRequest request;
  request.set_worker_id("w1");
  v1::HeartbeatResponse response;
  EXPECT_EQ(
      harness_.workers(harness_.alice)
          ->Heartbeat(make_context(harness_.as(harness_.alice), 5000).get(), request, &response)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(harness_.list().empty());
}

// A worker token speaks for the worker of its name only; an admin token for any worker.
TEST_F(CoordinatorApiTest, AWorkerTokenActsOnlyAsItsOwnWorker) {
  v1::RegisterRequest request;
  request.set_worker_id("w2");
  request.set_hostname("w2.local");
  request.set_address("127.0.0.1");
  request.add_gpus()->set_name("cpu");
  v1::RegisterResponse response;
  const auto register_as = [&](const std::string& token) {
    return harness_.workers(token)->Register(make_context(harness_.as(token), 5000).get(), request,
                                             &response);
  };
  const grpc::Status impostor = register_as(harness_.worker);  // the token of worker "node"
  EXPECT_EQ(impostor.error_code(), grpc::StatusCode::PERMISSION_DENIED) << describe(impostor);
  EXPECT_NE(impostor.error_message().find("'node' may not act as worker 'w2'"), std::string::npos)
      << describe(impostor);
  v1::HeartbeatRequest heartbeat;
  heartbeat.set_worker_id("w2");
  v1::HeartbeatResponse beat;
  EXPECT_EQ(
      harness_.workers(harness_.worker)
          ->Heartbeat(make_context(harness_.as(harness_.worker), 5000).get(), heartbeat, &beat)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(harness_.list_workers().empty());

  const grpc::Status own = register_as(harness_.worker_token("w2"));
  EXPECT_TRUE(own.ok()) << describe(own);
  const grpc::Status admin = register_as(harness_.admin);
  EXPECT_TRUE(admin.ok()) << describe(admin);
  EXPECT_EQ(harness_.list_workers().size(), 1u);
}

TEST_F(CoordinatorApiTest, OnlyTheOwnerOrAnAdminMayCancel) {
  const uint64_t id = harness_.submit_ok(job_spec("mine"));
  EXPECT_EQ(harness_.cancel("", id).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const grpc::Status denied = harness_.cancel(harness_.bob, id);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(denied.error_message().find("alice"), std::string::npos) << describe(denied);
  EXPECT_EQ(harness_.get(id).state(), v1::JOB_QUEUED);
  EXPECT_EQ(harness_.cancel(harness_.alice, 12345).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::Job job;
  ASSERT_TRUE(harness_.cancel(harness_.admin, id, &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_CANCELLED);
  EXPECT_EQ(job.message(), "cancelled by root");
}

TEST_F(CoordinatorApiTest, RelativeOutputGoesUnderTheOutputRootPerUserAndJob) {
  std::vector<v1::Job> jobs;
  ASSERT_TRUE(harness_.submit(harness_.alice, job_spec("rel"), &jobs).ok());
  ASSERT_EQ(jobs.size(), 1u);
  const std::string expected =
      harness_.options().data_dir + "/outputs/alice/" + std::to_string(jobs[0].id()) + "-rel";
  EXPECT_EQ(jobs[0].output(), expected);
  EXPECT_NE(jobs[0].spec_yaml().find("output: " + expected), std::string::npos)
      << jobs[0].spec_yaml();
  EXPECT_EQ(jobs[0].state(), v1::JOB_QUEUED);
  EXPECT_EQ(jobs[0].user(), "alice");
  EXPECT_EQ(jobs[0].gpus(), 1);
  EXPECT_EQ(jobs[0].max_restarts(), 3);

  ASSERT_TRUE(
      harness_.submit(harness_.alice, job_spec("abs") + "output: /results/abs\n", &jobs).ok());
  EXPECT_EQ(jobs[0].output(), "/results/abs");
}

TEST_F(CoordinatorApiTest, ArraysExpandIndexAndSeed) {
  std::vector<v1::Job> jobs;
  const std::string spec =
      "name: sweep-{index}\nmodel: /m\ndataset: /d.jsonl\nsteps: 1\nseed: 7\n"
      "output: /results/sweep-{index}\n";
  ASSERT_TRUE(harness_.submit(harness_.alice, spec, &jobs, 3).ok());
  ASSERT_EQ(jobs.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(jobs[i].name(), "sweep-" + std::to_string(i));
    EXPECT_EQ(jobs[i].output(), "/results/sweep-" + std::to_string(i));
    EXPECT_EQ(jobs[i].array_id(), jobs[0].id());
    EXPECT_EQ(jobs[i].array_index(), i);
    EXPECT_NE(jobs[i].spec_yaml().find("seed: " + std::to_string(7 + i)), std::string::npos)
        << jobs[i].spec_yaml();
  }
  // An array whose elements would all write to one absolute directory is refused whole.
  const std::size_t before = harness_.list().size();
  const grpc::Status shared = harness_.submit(
      harness_.alice, "name: s\nmodel: /m\ndataset: /d.jsonl\nsteps: 1\noutput: /r/same\n", nullptr,
      2);
  EXPECT_EQ(shared.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(harness_.list().size(), before);
}

TEST_F(CoordinatorApiTest, ListFiltersByUserAndStateNewestFirst) {
  const uint64_t first = harness_.submit_ok(job_spec("a1"));
  const uint64_t second = harness_.submit_ok(job_spec("b1"), harness_.bob);
  const uint64_t third = harness_.submit_ok(job_spec("a2"));
  ASSERT_TRUE(harness_.cancel(harness_.alice, first).ok());

  std::vector<v1::Job> all = harness_.list();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id(), third);
  EXPECT_EQ(all[2].id(), first);

  v1::ListJobsRequest request;
  request.set_user("alice");
  EXPECT_EQ(harness_.list(request).size(), 2u);
  request.add_states(v1::JOB_QUEUED);
  const auto queued = harness_.list(request);
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].id(), third);
  v1::ListJobsRequest limited;
  limited.set_limit(1);
  ASSERT_EQ(harness_.list(limited).size(), 1u);
  EXPECT_EQ(harness_.list(limited)[0].id(), third);
  EXPECT_NE(second, 0u);
}

TEST_F(CoordinatorApiTest, RegisteredDatasetTravelsWithTheAssignment) {
  const std::string content = "{\"text\": \"one\"}\n{\"text\": \"two\"}\n";
  v1::Dataset uploaded;
  {
    auto context = make_context(harness_.as(harness_.alice), 5000);
    auto writer = harness_.datasets(harness_.alice)->Upload(context.get(), &uploaded);
    v1::UploadChunk chunk;
    chunk.mutable_header()->set_name("notes");
    chunk.mutable_header()->set_size_bytes(static_cast<int64_t>(content.size()));
    ASSERT_TRUE(writer->Write(chunk));
    chunk.set_data(content);
    ASSERT_TRUE(writer->Write(chunk));
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    ASSERT_TRUE(status.ok()) << describe(status);
  }
  FakeWorker worker(harness_, "w1", 1);
  ASSERT_TRUE(worker.register_worker().ok());
  const uint64_t id = harness_.submit_ok("name: reg\nmodel: /m\ndataset: notes\nsteps: 1\n");
  ASSERT_TRUE(eventually([&] { return harness_.job_is(id, v1::JOB_STARTING); }));
  worker.heartbeat_until([](const v1::HeartbeatResponse& r) { return r.start_size() == 1; });
  const v1::RankAssignment& assignment = worker.assignments().at({id, 1, 0});
  EXPECT_EQ(assignment.dataset().name(), "notes");
  EXPECT_EQ(assignment.dataset().sha256(), uploaded.sha256());
  EXPECT_EQ(harness_.get(id).dataset(), "notes");

  // In use: the dataset cannot be deleted while the job is not final.
  v1::DatasetRef ref;
  ref.set_name("notes");
  v1::Dataset deleted;
  EXPECT_EQ(harness_.datasets(harness_.alice)
                ->Delete(make_context(harness_.as(harness_.alice), 5000).get(), ref, &deleted)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(CoordinatorApiTest, RendezvousWaitsForKeysAndChecksTheAttemptToken) {
  FakeWorker worker(harness_, "w1", 2);
  const uint64_t id = running_job(worker, 2);
  const std::string token = worker.assignments().at({id, 1, 0}).rendezvous_token();

  v1::RendezvousGetRequest get;
  get.set_job_id(id);
  get.set_attempt(1);
  get.set_key("store");
  get.set_timeout_ms(10000);
  auto waiting = std::async(std::launch::async, [&] {
    v1::RendezvousGetResponse response;
    const grpc::Status status = harness_.rendezvous(token)->Get(
        make_context(harness_.as(token), 20000).get(), get, &response);
    return std::make_pair(status, response.value());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  v1::RendezvousSetRequest set;
  set.set_job_id(id);
  set.set_attempt(1);
  set.set_key("store");
  set.set_value("127.0.0.1:29500");
  v1::RendezvousSetResponse set_response;
  const auto set_as = [&](const std::string& as) {
    return harness_.rendezvous(as)->Set(make_context(harness_.as(as), 5000).get(), set,
                                        &set_response);
  };
  EXPECT_EQ(set_as("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(set_as(harness_.alice).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(set_as(std::string(token.size(), '0')).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(set_as(token).ok());
  const auto [status, value] = waiting.get();
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(value, "127.0.0.1:29500");

  v1::RendezvousGetResponse response;
  get.set_key("never");
  get.set_timeout_ms(100);
  EXPECT_EQ(harness_.rendezvous(token)
                ->Get(make_context(harness_.as(token), 5000).get(), get, &response)
                .error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  get.set_attempt(2);
  EXPECT_EQ(harness_.rendezvous(token)
                ->Get(make_context(harness_.as(token), 5000).get(), get, &response)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  set.set_value(std::string(65 << 10, 'x'));
  EXPECT_EQ(set_as(token).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(CoordinatorApiTest, LogsFollowUntilTheJobIsFinal) {
  FakeWorker worker(harness_, "w1", 1);
  const uint64_t id = running_job(worker);

  auto following = std::async(std::launch::async, [&] {
    v1::LogsRequest request;
    request.set_job_id(id);
    request.set_follow(true);
    auto context = make_context(harness_.as(harness_.alice), 20000);
    auto reader = harness_.jobs(harness_.alice)->Logs(context.get(), request);
    std::string text;
    v1::LogChunk chunk;
    v1::JobState last_state = v1::JOB_STATE_UNSPECIFIED;
    while (reader->Read(&chunk)) {
      EXPECT_EQ(chunk.offset(), static_cast<int64_t>(text.size()));
      text += chunk.data();
      last_state = chunk.state();
    }
    return std::make_tuple(reader->Finish(), text, last_state);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  worker.log(rank_ref(id, 1, 0), "step 1 loss 2.0\nstep 2 loss 1.5\n");
  worker.heartbeat();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  worker.exit(rank_ref(id, 1, 0), 0);
  worker.heartbeat();

  const auto [status, text, last_state] = following.get();
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_NE(text.find("[rank 0] step 1 loss 2.0\n[rank 0] step 2 loss 1.5\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("succeeded"), std::string::npos) << text;
  EXPECT_EQ(last_state, v1::JOB_SUCCEEDED);

  // From an offset: the rest of the log.
  v1::LogsRequest request;
  request.set_job_id(id);
  request.set_offset(static_cast<int64_t>(text.find("[rank 0]")));
  auto context = make_context(harness_.as(harness_.alice), 5000);
  auto reader = harness_.jobs(harness_.alice)->Logs(context.get(), request);
  v1::LogChunk chunk;
  ASSERT_TRUE(reader->Read(&chunk));
  EXPECT_EQ(chunk.data().rfind("[rank 0] step 1", 0), 0u) << chunk.data();
}

}  // namespace
}  // namespace gradpool::testing
