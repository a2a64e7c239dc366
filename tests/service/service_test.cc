// The service end to end: users submit jobs to a coordinator, workers run their ranks, the jobs
// finish with adapters in their outputs; fair share orders the queue; tokens and bad input are
// refused without changing anything.
#include <fstream>

#include "common/sha256.h"
#include "tests/service/service_fixture.h"

namespace gradpool::testing {
namespace {

bool is_final(const v1::Job& job) {
  return job.state() == v1::JOB_SUCCEEDED || job.state() == v1::JOB_FAILED ||
         job.state() == v1::JOB_CANCELLED;
}

// Uploads `content` as dataset `name` in small chunks.
grpc::Status upload(const Endpoint& endpoint, const std::string& name, const std::string& content,
                    int64_t announced_size, v1::Dataset* dataset) {
  auto stub = v1::Datasets::NewStub(open_channel(endpoint));
  auto context = make_context(endpoint, 10000);
  auto writer = stub->Upload(context.get(), dataset);
  v1::UploadChunk header;
  header.mutable_header()->set_name(name);
  header.mutable_header()->set_size_bytes(announced_size);
  writer->Write(header);
  for (size_t at = 0; at < content.size(); at += 100) {
    v1::UploadChunk chunk;
    chunk.set_data(content.substr(at, 100));
    if (!writer->Write(chunk)) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

std::vector<v1::Dataset> list_datasets(const Endpoint& endpoint) {
  auto stub = v1::Datasets::NewStub(open_channel(endpoint));
  auto context = make_context(endpoint, 5000);
  v1::ListDatasetsResponse response;
  EXPECT_TRUE(stub->List(context.get(), v1::ListDatasetsRequest(), &response).ok());
  return {response.datasets().begin(), response.datasets().end()};
}

TEST_F(ServiceTest, TwoUsersShareTwoWorkers) {
  start_coordinator();
  start_worker("node-a", 2);
  start_worker("node-b", 2);
  wait_for_workers(2);
  const std::string alice = add_token("alice", "user"), bob = add_token("bob", "user");

  // Bob trains on a registered dataset that the workers fetch as shards; Alice on a path.
  v1::Dataset notes;
  const std::string content = read_file((shared_ / "notes.jsonl").string());
  ASSERT_TRUE(upload(endpoint(bob), "notes", content, content.size(), &notes).ok());
  EXPECT_EQ(notes.records(), 64);
  EXPECT_EQ(notes.sha256(), sha256_hex(content));

  const uint64_t two_ranks =
      submit_ok(alice, job_spec("alice-two-ranks", 2, 6, (dir_ / "out-alice").string()));
  std::string bob_spec = job_spec("bob-one-rank", 1, 6, (dir_ / "out-bob").string());
  bob_spec.replace(bob_spec.find("dataset: "),
                   bob_spec.find('\n', bob_spec.find("dataset: ")) - bob_spec.find("dataset: "),
                   "dataset: notes");
  const uint64_t one_rank = submit_ok(bob, bob_spec);

  const v1::Job a = wait_for_state(two_ranks, v1::JOB_SUCCEEDED);
  const v1::Job b = wait_for_state(one_rank, v1::JOB_SUCCEEDED);
  EXPECT_EQ(a.user(), "alice");
  EXPECT_EQ(b.user(), "bob");
  ASSERT_EQ(a.ranks_size(), 2);
  EXPECT_FALSE(a.ranks(0).worker_id() == a.ranks(1).worker_id() &&
               a.ranks(0).slot() == a.ranks(1).slot());
  EXPECT_EQ(a.progress().step(), 6);
  EXPECT_EQ(b.progress().step(), 6);
  EXPECT_EQ(a.attempt(), 1);
  for (const auto* out : {"out-alice", "out-bob"}) {
    EXPECT_TRUE(fs::exists(dir_ / out / "adapter_model.safetensors")) << out;
    EXPECT_TRUE(fs::exists(dir_ / out / "adapter_config.json")) << out;
  }
  EXPECT_TRUE(contains(job_log(two_ranks), "[rank 1]")) << job_log(two_ranks);
}

TEST_F(ServiceTest, FairShareRunsTheLightUserBeforeTheHeavyUsersSecondJob) {
  start_coordinator();
  start_worker("single", 1);
  wait_for_workers(1);
  const std::string heavy = add_token("heavy", "user"), light = add_token("light", "user");

  const uint64_t first = submit_ok(heavy, job_spec("first", 1, 40, (dir_ / "first").string()));
  wait_for_job(
      first, [](const v1::Job& job) { return job.progress().step() >= 2; }, "trained 2 steps");
  // Submitted earlier, so age alone would put it first; fair share must not.
  const uint64_t second = submit_ok(heavy, job_spec("second", 1, 4, (dir_ / "second").string()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const uint64_t third = submit_ok(light, job_spec("third", 1, 4, (dir_ / "third").string()));

  const v1::Job queued = wait_for_job(
      second, [](const v1::Job& job) { return job.queue_position() == 2; }, "queued second");
  EXPECT_EQ(queued.state(), v1::JOB_QUEUED);

  const v1::Job light_job = wait_for_state(third, v1::JOB_SUCCEEDED);
  const v1::Job heavy_job = wait_for_state(second, v1::JOB_SUCCEEDED);
  EXPECT_LT(light_job.start_ms(), heavy_job.start_ms());
}

TEST_F(ServiceTest, RefusesMissingTokensAndOtherUsersCancels) {
  start_coordinator();
  const std::string alice = add_token("alice", "user"), bob = add_token("bob", "user");
  const uint64_t id = submit_ok(alice, job_spec("mine", 1, 2, (dir_ / "mine").string()));

  v1::Job job;
  EXPECT_EQ(get_job("", id, &job).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(get_job("0123456789abcdef", id, &job).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  v1::SubmitResponse response;
  EXPECT_EQ(submit("", job_spec("anon", 1, 2, "/tmp/x"), &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(submit(worker_token_, job_spec("w", 1, 2, "/tmp/x"), &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  const grpc::Status refused = cancel_job(bob, id, &job);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED) << describe(refused);
  ASSERT_TRUE(get_job(alice, id, &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_QUEUED);  // no worker yet

  ASSERT_TRUE(cancel_job(alice, id, &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_CANCELLED);
  EXPECT_EQ(list_jobs().size(), 1u);
}

TEST_F(ServiceTest, BadSpecsAndUploadsAreRefusedAndChangeNothing) {
  start_coordinator({"--max-dataset-bytes", "4096"});
  const std::string alice = add_token("alice", "user");

  std::string spec = job_spec("bad", 1, 2, (dir_ / "bad").string());
  spec.replace(spec.find("r: 4"), 4, "r: -4");
  v1::SubmitResponse response;
  grpc::Status status = submit(alice, spec, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(contains(status.error_message(), "lora.r")) << status.error_message();
  status = submit(alice, "name: [unclosed\n", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(contains(status.error_message(), "job.yaml")) << status.error_message();
  EXPECT_TRUE(list_jobs().empty());

  v1::Dataset dataset;
  const std::string big(5000, 'x');
  status = upload(endpoint(alice), "big", big, big.size(), &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(status);
  EXPECT_TRUE(contains(status.error_message(), "4096")) << status.error_message();
  // Announcing less than is sent is caught too.
  status = upload(endpoint(alice), "liar", big, 100, &dataset);
  EXPECT_FALSE(status.ok());
  const std::string malformed = "{\"text\": \"fine\"}\n{\"text\": 3}\n";
  status = upload(endpoint(alice), "malformed", malformed, malformed.size(), &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(contains(status.error_message(), "line 2")) << status.error_message();
  EXPECT_TRUE(list_datasets(endpoint(alice)).empty());
}

}  // namespace
}  // namespace gradpool::testing
