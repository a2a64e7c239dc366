// What the coordinator tests share: a real Coordinator (real SQLite file in a temp dir, real gRPC
// server on 127.0.0.1 port 0) with short intervals, tokens for a few users, stubs, and FakeWorker,
// which speaks the Workers API the way gradpool-worker does but lets the test decide when a rank
// runs and how it exits. No worker or rank processes are involved.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "coordinator/api/server.h"
#include "proto/channel.h"
#include "proto/gradpool.grpc.pb.h"
#include "tests/test_util.h"

namespace gradpool::testing {

// Polls `condition` every 20 ms for up to 20 s (a generous bound, not a timing requirement).
inline bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

// A spec the coordinator accepts: absolute model and dataset paths (never opened here).
inline std::string job_spec(const std::string& name, int gpus = 1, int max_restarts = 3,
                            const std::string& extra = "") {
  return "name: " + name + "\nmodel: /models/tiny\ndataset: /data/notes.jsonl\nsteps: 10\n" +
         "resources: {gpus: " + std::to_string(gpus) +
         "}\nmax_restarts: " + std::to_string(max_restarts) + "\n" + extra;
}

class CoordinatorHarness {
 public:
  explicit CoordinatorHarness(const std::string& tag) : dir_(temp_dir(tag)) {
    options_.data_dir = (dir_ / "data").string();
    options_.listen = "127.0.0.1:0";
    options_.metrics_listen = "127.0.0.1:0";  // never the default port: tests run in parallel
    options_.lease_timeout_s = 5.0;           // generous for slow machines; lease tests shorten it
    options_.heartbeat_interval_ms = 100;
    options_.schedule_interval_ms = 50;
    options_.stop_grace_s = 1;
  }

  CoordinatorOptions& options() { return options_; }
  const std::filesystem::path& dir() const { return dir_; }
  int metrics_port() const { return coordinator_->metrics_port(); }

  // Starts the coordinator; the first start also creates the tokens.
  void start() {
    coordinator_ = std::make_unique<Coordinator>(options_);
    coordinator_->start();
    if (alice.empty()) {
      alice = coordinator_->tokens().add("alice", Role::kUser);
      bob = coordinator_->tokens().add("bob", Role::kUser);
      admin = coordinator_->tokens().add("root", Role::kAdmin);
      worker = coordinator_->tokens().add("node", Role::kWorker);
    }
  }
  // Destroys the coordinator and starts a new one on the same data directory (new port).
  void restart() {
    coordinator_.reset();
    start();
  }
  void stop() { coordinator_.reset(); }

  Endpoint as(const std::string& token) const { return {coordinator_->address(), token, ""}; }
  std::unique_ptr<v1::Jobs::Stub> jobs(const std::string& token) const {
    return v1::Jobs::NewStub(open_channel(as(token)));
  }
  std::unique_ptr<v1::Workers::Stub> workers(const std::string& token) const {
    return v1::Workers::NewStub(open_channel(as(token)));
  }
  std::unique_ptr<v1::Rendezvous::Stub> rendezvous(const std::string& token) const {
    return v1::Rendezvous::NewStub(open_channel(as(token)));
  }
  std::unique_ptr<v1::Datasets::Stub> datasets(const std::string& token) const {
    return v1::Datasets::NewStub(open_channel(as(token)));
  }

  // Submits as `token`; the status, and the jobs on success.
  grpc::Status submit(const std::string& token, const std::string& spec,
                      std::vector<v1::Job>* jobs = nullptr, int array_size = 0) const {
    v1::SubmitRequest request;
    request.set_spec_yaml(spec);
    request.set_source_name("job.yaml");
    request.set_array_size(array_size);
    v1::SubmitResponse response;
    const grpc::Status status =
        this->jobs(token)->Submit(make_context(as(token), 5000).get(), request, &response);
    if (jobs) jobs->assign(response.jobs().begin(), response.jobs().end());
    return status;
  }
  // Submits as alice and returns the job id (fails the test otherwise).
  uint64_t submit_ok(const std::string& spec, const std::string& token = "") const {
    std::vector<v1::Job> submitted;
    const grpc::Status status = submit(token.empty() ? alice : token, spec, &submitted);
    EXPECT_TRUE(status.ok()) << describe(status);
    return submitted.empty() ? 0 : submitted.front().id();
  }

  v1::Job get(uint64_t id) const {
    v1::JobRef ref;
    ref.set_id(id);
    v1::Job job;
    const grpc::Status status = jobs(alice)->Get(make_context(as(alice), 5000).get(), ref, &job);
    EXPECT_TRUE(status.ok()) << describe(status);
    return job;
  }
  grpc::Status cancel(const std::string& token, uint64_t id, v1::Job* job = nullptr) const {
    v1::JobRef ref;
    ref.set_id(id);
    v1::Job ignored;
    return jobs(token)->Cancel(make_context(as(token), 5000).get(), ref, job ? job : &ignored);
  }
  std::vector<v1::Job> list(const v1::ListJobsRequest& request = {}) const {
    v1::ListJobsResponse response;
    const grpc::Status status =
        jobs(alice)->List(make_context(as(alice), 5000).get(), request, &response);
    EXPECT_TRUE(status.ok()) << describe(status);
    return {response.jobs().begin(), response.jobs().end()};
  }
  std::vector<v1::Worker> list_workers() const {
    v1::ListWorkersResponse response;
    const grpc::Status status =
        workers(alice)->List(make_context(as(alice), 5000).get(), {}, &response);
    EXPECT_TRUE(status.ok()) << describe(status);
    return {response.workers().begin(), response.workers().end()};
  }
  // The whole log of a job (no follow).
  std::string logs(uint64_t id) const {
    v1::LogsRequest request;
    request.set_job_id(id);
    auto context = make_context(as(alice), 5000);
    auto reader = jobs(alice)->Logs(context.get(), request);
    std::string text;
    v1::LogChunk chunk;
    while (reader->Read(&chunk)) text += chunk.data();
    EXPECT_TRUE(reader->Finish().ok());
    return text;
  }

  bool job_is(uint64_t id, v1::JobState state, int attempt = 0) const {
    const v1::Job job = get(id);
    return job.state() == state && (attempt == 0 || job.attempt() == attempt);
  }

  // A new worker token for worker `id` (a worker token acts only as the worker of its name).
  std::string worker_token(const std::string& id) const {
    return coordinator_->tokens().add(id, Role::kWorker);
  }

  std::string alice, bob, admin, worker;  // tokens; `worker` belongs to worker "node"

 private:
  std::filesystem::path dir_;
  CoordinatorOptions options_;
  std::unique_ptr<Coordinator> coordinator_;
};

inline std::tuple<uint64_t, int, int> key_of(const v1::RankRef& ref) {
  return {ref.job_id(), ref.attempt(), ref.rank()};
}

inline v1::RankRef rank_ref(uint64_t job, int attempt, int rank) {
  v1::RankRef ref;
  ref.set_job_id(job);
  ref.set_attempt(attempt);
  ref.set_rank(rank);
  return ref;
}

// A worker daemon played by the test. It remembers each rank it was told to start and reports it
// in every heartbeat, running at once unless told otherwise, until the coordinator says forget.
// It registers <id>.local as its hostname and <id>.local:9471 as its metrics address.
class FakeWorker {
 public:
  FakeWorker(const CoordinatorHarness& harness, std::string id, int slots,
             std::string gpu_name = "cpu")
      : harness_(harness),
        id_(std::move(id)),
        token_(harness.worker_token(id_)),
        slots_(slots),
        gpu_name_(std::move(gpu_name)) {}

  grpc::Status register_worker() {
    v1::RegisterRequest request;
    request.set_worker_id(id_);
    request.set_hostname(id_ + ".local");
    request.set_address("127.0.0.1");
    request.set_metrics_address(id_ + ".local:9471");
    for (int i = 0; i < slots_; ++i) {
      v1::Gpu* gpu = request.add_gpus();
      gpu->set_index(i);
      gpu->set_name(gpu_name_);
      gpu->set_memory_bytes(int64_t{16} << 30);
    }
    for (const auto& [key, report] : reports_) *request.add_ranks() = report;
    v1::RegisterResponse response;
    const Endpoint endpoint = harness_.as(token_);
    return harness_.workers(token_)->Register(make_context(endpoint, 5000).get(), request,
                                              &response);
  }

  // One heartbeat; remembers new starts (as running) and drops forgotten ranks.
  v1::HeartbeatResponse heartbeat() {
    v1::HeartbeatRequest request;
    request.set_worker_id(id_);
    for (auto& [key, report] : reports_) {
      *request.add_ranks() = report;
      report.clear_log();  // sent once
      report.clear_progress();
    }
    v1::HeartbeatResponse response;
    const Endpoint endpoint = harness_.as(token_);
    const grpc::Status status =
        harness_.workers(token_)->Heartbeat(make_context(endpoint, 5000).get(), request, &response);
    EXPECT_TRUE(status.ok()) << describe(status);
    for (const v1::RankRef& ref : response.forget()) reports_.erase(key_of(ref));
    for (const v1::RankAssignment& start : response.start()) {
      assignments_[key_of(start.ref())] = start;
      if (reports_.count(key_of(start.ref()))) continue;
      v1::RankReport& report = reports_[key_of(start.ref())];
      *report.mutable_ref() = start.ref();
      report.set_running(start_running_);
    }
    for (const v1::RankRef& ref : response.stop()) stopped_.push_back(ref);
    return response;
  }

  // Heartbeats until `condition(response)` holds (at most ~20 s).
  v1::HeartbeatResponse heartbeat_until(
      const std::function<bool(const v1::HeartbeatResponse&)>& condition) {
    v1::HeartbeatResponse response;
    eventually([&] {
      response = heartbeat();
      return condition(response);
    });
    return response;
  }

  void set_running(const v1::RankRef& ref) { reports_[key_of(ref)].set_running(true); }
  void exit(const v1::RankRef& ref, int code, const std::string& message = "") {
    v1::RankReport& report = reports_[key_of(ref)];
    *report.mutable_ref() = ref;
    report.set_running(false);
    report.set_exited(true);
    report.set_exit_code(code);
    report.set_message(message);
  }
  void log(const v1::RankRef& ref, const std::string& text) { reports_[key_of(ref)].set_log(text); }
  void progress(const v1::RankRef& ref, const v1::Progress& progress) {
    *reports_[key_of(ref)].mutable_progress() = progress;
  }
  // A rank this worker claims to run (for re-adoption tests).
  void claim(const v1::RankRef& ref) {
    v1::RankReport& report = reports_[key_of(ref)];
    *report.mutable_ref() = ref;
    report.set_running(true);
  }
  void start_ranks_running(bool running) { start_running_ = running; }

  const std::map<std::tuple<uint64_t, int, int>, v1::RankAssignment>& assignments() const {
    return assignments_;
  }
  const std::vector<v1::RankRef>& stopped() const { return stopped_; }
  bool reports(const v1::RankRef& ref) const { return reports_.count(key_of(ref)) > 0; }

 private:
  const CoordinatorHarness& harness_;
  std::string id_;
  std::string token_;
  int slots_;
  std::string gpu_name_;
  bool start_running_ = true;
  std::map<std::tuple<uint64_t, int, int>, v1::RankReport> reports_;
  std::map<std::tuple<uint64_t, int, int>, v1::RankAssignment> assignments_;
  std::vector<v1::RankRef> stopped_;
};

inline bool contains(const google::protobuf::RepeatedPtrField<v1::RankRef>& refs,
                     const v1::RankRef& ref) {
  for (const v1::RankRef& item : refs)
    if (key_of(item) == key_of(ref)) return true;
  return false;
}

}  // namespace gradpool::testing
