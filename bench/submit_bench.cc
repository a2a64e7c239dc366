// submit_bench: durable job submissions per second through the real coordinator — gRPC on
// loopback, the spec parsed and checked, the job row committed to SQLite (WAL, synchronous=FULL)
// before each reply — then the time the coordinator's own scheduling pass takes with that queue
// in the database (store snapshot + sched::schedule + reasons/positions written back).
//
// One line per client-thread count, in the manner of nccl-tests; each run checks that every
// submitted job is listed before printing.
//
//   submit_bench [--jobs 10000] [--threads 1,4,16] [--data-dir DIR]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "coordinator/api/server.h"
#include "proto/channel.h"
#include "proto/gradpool.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = gradpool::v1;

constexpr const char* kSpec = R"(name: bench
model: /models/llama-3.2-1b
dataset: /data/notes.jsonl
seq_len: 512
lora: {r: 16, alpha: 32, target_modules: [q_proj, v_proj]}
batch: {global: 64, micro: 8}
steps: 500
resources: {gpus: 8, gpu_type: A100}
)";

// Submits `jobs` jobs from `threads` client threads; returns the seconds it took.
double submit_all(const gradpool::Endpoint& endpoint, int jobs, int threads) {
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t)
    clients.emplace_back([&, t] {
      auto stub = v1::Jobs::NewStub(gradpool::open_channel(endpoint));
      for (int i = t; i < jobs; i += threads) {
        v1::SubmitRequest request;
        request.set_spec_yaml(kSpec);
        request.set_source_name("bench.yaml");
        v1::SubmitResponse response;
        auto context = gradpool::make_context(endpoint, 30000);
        const grpc::Status status = stub->Submit(context.get(), request, &response);
        if (!status.ok() && failures++ == 0)
          std::fprintf(stderr, "submit: %s\n", gradpool::describe(status).c_str());
      }
    });
  for (auto& client : clients) client.join();
  if (failures) throw std::runtime_error(std::to_string(failures) + " submits failed");
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int listed_jobs(const gradpool::Endpoint& endpoint) {
  auto stub = v1::Jobs::NewStub(gradpool::open_channel(endpoint));
  auto context = gradpool::make_context(endpoint, 60000);
  v1::ListJobsResponse response;
  if (!stub->List(context.get(), v1::ListJobsRequest(), &response).ok()) return -1;
  return response.jobs_size();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"submit_bench: durable submits per second through gradpool-coordinator"};
  int jobs = 10000;
  std::vector<int> thread_counts = {1, 4, 16};
  std::string data_root = std::filesystem::temp_directory_path() / "gradpool-submit-bench";
  app.add_option("--jobs", jobs, "jobs per run")->capture_default_str();
  app.add_option("--threads", thread_counts, "client threads, one run each")->delimiter(',');
  app.add_option("--data-dir", data_root, "where the runs' coordinator data dirs go")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::printf("# %8s %8s %10s %12s %10s\n", "threads", "jobs", "seconds", "submits/s", "listed");
  for (const int threads : thread_counts) {
    const std::string data_dir = data_root + "/threads-" + std::to_string(threads);
    std::filesystem::remove_all(data_dir);
    gradpool::CoordinatorOptions options;
    options.data_dir = data_dir;
    options.listen = "127.0.0.1:0";
    options.metrics_listen = "off";
    options.schedule_interval_ms = 500;
    gradpool::Coordinator coordinator(options);
    coordinator.start();
    const gradpool::Endpoint endpoint{
        coordinator.address(), coordinator.tokens().add("bench", gradpool::Role::kAdmin), ""};
    const double seconds = submit_all(endpoint, jobs, threads);
    const int listed = listed_jobs(endpoint);
    std::printf("  %8d %8d %10.2f %12.0f %10d%s\n", threads, jobs, seconds, jobs / seconds, listed,
                listed == jobs ? "" : "  MISMATCH");
    coordinator.shutdown();
    if (listed != jobs) return 1;
  }
  return 0;
}
