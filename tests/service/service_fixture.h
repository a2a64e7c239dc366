// The whole service as real processes on loopback: a gradpool-coordinator on a real SQLite file,
// gradpool-worker daemons with CPU slots, and the gradpool-train ranks they start. Tests talk to
// the coordinator over gRPC with real tokens. Nothing is mocked; the only thing faked is the
// hardware: "GPUs" are CPU slots, because this machine (and CI) has no GPU.
#pragma once

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/net.h"
#include "proto/channel.h"
#include "proto/gradpool.grpc.pb.h"
#include "tests/adapter_compare.h"
#include "tests/child_process.h"
#include "tests/test_util.h"

namespace gradpool::testing {

namespace fs = std::filesystem;
namespace v1 = gradpool::v1;
using Args = std::vector<std::string>;
using Clock = std::chrono::steady_clock;

// Generous: a job here takes a few seconds, but CI machines are shared and slow.
constexpr auto kJobDeadline = std::chrono::seconds(180);

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class ServiceTest : public ::testing::Test {
 protected:
  // One tiny random Llama and a text dataset for every test of this process.
  static void SetUpTestSuite() {
    ::setenv("OMP_NUM_THREADS", "1", 0);  // ranks share two cores with each other
    shared_ = temp_dir("service-shared");
    ChildProcess init({GRADPOOL_TRAIN_BIN, "init-model", "--preset", "tiny-llama", "--out",
                       (shared_ / "model").string(), "--seed", "1"},
                      shared_ / "init-model");
    ASSERT_EQ(init.wait(), 0) << init.output();
    std::ofstream data(shared_ / "notes.jsonl");
    for (int i = 0; i < 64; ++i)
      data << nlohmann::json{{"text", "note " + std::to_string(i) + ": the quick brown fox jumps " +
                                          "over " + std::to_string(i * 7 % 13) + " lazy dogs."}}
                  .dump()
           << "\n";
  }

  void SetUp() override {
    dir_ = temp_dir(std::string("service-") +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    data_dir_ = dir_ / "coordinator";
    fs::create_directories(data_dir_);
    port_ = pick_free_tcp_port();
    admin_token_ = add_token("root", "admin");
    worker_token_ = add_token("pool", "worker");
  }

  void TearDown() override {
    workers_.clear();
    coordinator_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // ---- processes -------------------------------------------------------------------------------

  // `gradpool-coordinator token add USER --role ROLE`: the token it prints.
  std::string add_token(const std::string& user, const std::string& role) {
    ChildProcess token({GRADPOOL_COORDINATOR_BIN, "token", "add", user, "--role", role,
                        "--data-dir", data_dir_.string()},
                       next_log("token"));
    EXPECT_EQ(token.wait(), 0) << token.output();
    std::string text = token.stdout_text();
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    return text;
  }

  // Starts the coordinator on this test's port and data dir (again after a kill) and waits until
  // it answers.
  void start_coordinator(const Args& extra = {}) {
    Args args = {GRADPOOL_COORDINATOR_BIN,
                 "serve",
                 "--data-dir",
                 data_dir_.string(),
                 "--listen",
                 address(),
                 "--metrics-listen",
                 "127.0.0.1:0",
                 "--lease-timeout-s",
                 "3",
                 "--heartbeat-interval-ms",
                 "200",
                 "--schedule-interval-ms",
                 "200",
                 "--stop-grace-s",
                 "5"};
    args.insert(args.end(), extra.begin(), extra.end());
    coordinator_args_ = extra;
    coordinator_ = std::make_unique<ChildProcess>(args, next_log("coordinator"));
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    v1::ListWorkersResponse workers;
    while (!call_workers_list(&workers).ok()) {
      ASSERT_TRUE(coordinator_->running()) << coordinator_->output();
      ASSERT_LT(Clock::now(), deadline) << "coordinator did not answer\n" << coordinator_->output();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // Starts a worker daemon with `slots` CPU slots (and the CA of a TLS coordinator).
  ChildProcess& start_worker(const std::string& id, int slots, const Args& extra = {}) {
    // Each worker its own token: a worker token acts only as the worker of its name.
    const fs::path token_file = dir_ / ("worker-" + id + ".token");
    write_file_atomic(token_file.string(), add_token(id, "worker"));
    Args args = {GRADPOOL_WORKER_BIN,
                 "--coordinator",
                 address(),
                 "--token-file",
                 token_file.string(),
                 "--id",
                 id,
                 "--cpu-slots",
                 std::to_string(slots),
                 "--cache-dir",
                 (dir_ / ("cache-" + id)).string(),
                 "--train-bin",
                 GRADPOOL_TRAIN_BIN,
                 "--stop-grace-s",
                 "5"};
    if (!ca_cert_.empty()) args.insert(args.end(), {"--ca-cert", ca_cert_});
    // Metrics on a free port unless the test says where: the default port (9471) stays free for
    // the worker test that checks what happens when it is taken.
    if (std::find(extra.begin(), extra.end(), "--metrics-listen") == extra.end())
      args.insert(args.end(), {"--metrics-listen", "127.0.0.1:0"});
    args.insert(args.end(), extra.begin(), extra.end());
    workers_[id] = std::make_unique<ChildProcess>(args, next_log("worker-" + id));
    return *workers_[id];
  }

  // Waits until `count` workers are registered and up.
  void wait_for_workers(int count) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    for (;;) {
      v1::ListWorkersResponse workers;
      int up = 0;
      if (call_workers_list(&workers).ok())
        for (const auto& worker : workers.workers()) up += worker.state() == v1::WORKER_UP;
      if (up >= count) return;
      ASSERT_LT(Clock::now(), deadline) << "only " << up << " of " << count << " workers up\n"
                                        << logs_of_processes();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::string logs_of_processes() const {
    std::string text;
    if (coordinator_) text += "--- coordinator:\n" + coordinator_->output();
    for (const auto& [id, worker] : workers_) text += "--- worker " + id + ":\n" + worker->output();
    return text;
  }

  // ---- the API ---------------------------------------------------------------------------------

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  Endpoint endpoint(const std::string& token) const { return Endpoint{address(), token, ca_cert_}; }

  grpc::Status call_workers_list(v1::ListWorkersResponse* response) {
    auto stub = v1::Workers::NewStub(open_channel(endpoint(admin_token_)));
    auto context = make_context(endpoint(admin_token_), 2000);
    return stub->List(context.get(), v1::ListWorkersRequest(), response);
  }

  grpc::Status submit(const std::string& token, const std::string& spec_yaml,
                      v1::SubmitResponse* response) {
    auto stub = v1::Jobs::NewStub(open_channel(endpoint(token)));
    auto context = make_context(endpoint(token), 10000);
    v1::SubmitRequest request;
    request.set_spec_yaml(spec_yaml);
    request.set_source_name("job.yaml");
    return stub->Submit(context.get(), request, response);
  }

  // Submits and expects success: the new job's id.
  uint64_t submit_ok(const std::string& token, const std::string& spec_yaml) {
    v1::SubmitResponse response;
    const grpc::Status status = submit(token, spec_yaml, &response);
    EXPECT_TRUE(status.ok()) << describe(status);
    return response.jobs_size() == 1 ? response.jobs(0).id() : 0;
  }

  grpc::Status get_job(const std::string& token, uint64_t id, v1::Job* job) {
    auto stub = v1::Jobs::NewStub(open_channel(endpoint(token)));
    auto context = make_context(endpoint(token), 5000);
    v1::JobRef ref;
    ref.set_id(id);
    return stub->Get(context.get(), ref, job);
  }

  grpc::Status cancel_job(const std::string& token, uint64_t id, v1::Job* job) {
    auto stub = v1::Jobs::NewStub(open_channel(endpoint(token)));
    auto context = make_context(endpoint(token), 5000);
    v1::JobRef ref;
    ref.set_id(id);
    return stub->Cancel(context.get(), ref, job);
  }

  std::vector<v1::Job> list_jobs() {
    auto stub = v1::Jobs::NewStub(open_channel(endpoint(admin_token_)));
    auto context = make_context(endpoint(admin_token_), 5000);
    v1::ListJobsResponse response;
    const grpc::Status status = stub->List(context.get(), v1::ListJobsRequest(), &response);
    EXPECT_TRUE(status.ok()) << describe(status);
    return {response.jobs().begin(), response.jobs().end()};
  }

  // The job's whole log.
  std::string job_log(uint64_t id) {
    auto stub = v1::Jobs::NewStub(open_channel(endpoint(admin_token_)));
    auto context = make_context(endpoint(admin_token_), 10000);
    v1::LogsRequest request;
    request.set_job_id(id);
    auto reader = stub->Logs(context.get(), request);
    std::string text;
    v1::LogChunk chunk;
    while (reader->Read(&chunk)) text += chunk.data();
    reader->Finish();
    return text;
  }

  // Polls the job until `done(job)` holds; fails (with the job's log and the processes' output)
  // when it reaches a final state that does not satisfy `done`, or at the deadline.
  v1::Job wait_for_job(uint64_t id, const std::function<bool(const v1::Job&)>& done,
                       const std::string& what) {
    const auto deadline = Clock::now() + kJobDeadline;
    v1::Job job;
    for (;;) {
      job = v1::Job();
      const grpc::Status status = get_job(admin_token_, id, &job);
      if (status.ok() && done(job)) return job;
      const bool final = job.state() == v1::JOB_SUCCEEDED || job.state() == v1::JOB_FAILED ||
                         job.state() == v1::JOB_CANCELLED;
      if (final || Clock::now() > deadline) {
        ADD_FAILURE() << "job " << id << " never " << what << "; last state "
                      << v1::JobState_Name(job.state()) << " (" << describe(status) << ") "
                      << job.message() << "\n--- job log:\n"
                      << job_log(id) << logs_of_processes();
        return job;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  v1::Job wait_for_state(uint64_t id, v1::JobState state) {
    return wait_for_job(
        id, [state](const v1::Job& job) { return job.state() == state; },
        "reached " + v1::JobState_Name(state));
  }

  // ---- jobs ------------------------------------------------------------------------------------

  // A quick CPU job: `ranks` ranks, `steps` steps of 4 sequences, a checkpoint every 2 steps.
  std::string job_spec(const std::string& name, int ranks, int steps,
                       const std::string& output) const {
    return "name: " + name + "\nmodel: " + (shared_ / "model").string() +
           "\ndataset: " + (shared_ / "notes.jsonl").string() +
           "\nseq_len: 32\nlora: {r: 4, alpha: 8, dropout: 0.0, target_modules: [q_proj, v_proj]}"
           "\noptimizer: {lr: 1.0e-2, warmup_steps: 2}\nbatch: {global: 4, micro: 2}\nsteps: " +
           std::to_string(steps) +
           "\ncheckpoint_every: 2\nprecision: fp32\nresources: {gpus: " + std::to_string(ranks) +
           "}\nmax_restarts: 2\noutput: " + output + "\n";
  }

  fs::path next_log(const std::string& tag) {
    return dir_ / (tag + "-" + std::to_string(++processes_));
  }

  inline static fs::path shared_;
  fs::path dir_, data_dir_;
  uint16_t port_ = 0;
  std::string admin_token_, worker_token_;  // worker_token_: of a worker named "pool"
  std::string
      ca_cert_;  // PEM of the CA that signed a TLS coordinator's certificate; "" = plaintext
  Args coordinator_args_;
  std::unique_ptr<ChildProcess> coordinator_;
  std::map<std::string, std::unique_ptr<ChildProcess>> workers_;
  int processes_ = 0;
};

}  // namespace gradpool::testing
