// scheduler_bench: how long one scheduling pass (sched::schedule) takes on a large synthetic pool,
// in the manner of nccl-tests — one line per configuration.
//
// The pool cycles through three node kinds: 8× A100 80GB, 8× H100 80GB, 4× GTX 1080 8GB. The
// queue mixes 1/2/4/8-GPU jobs of any/A100/H100/GTX type with memory floors, priorities 0–3 and
// 50 users with random decayed usage, GPUs in use and a few quotas. Each configuration marks a
// share of the pool's slots busy at random (busy% is the share drawn) and runs the pass --passes
// times on the same input (one untimed pass first). Before printing, every decision is checked:
// each gang whole, on matching free slots of up workers, no slot given twice.
//
//   scheduler_bench [--jobs 10000] [--workers 256] [--passes 20] [--seed 1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "coordinator/scheduler/scheduler.h"

namespace {

using namespace gradpool::sched;

struct NodeKind {
  const char* gpu_name;
  double memory_gb;
  int gpus;
};
const NodeKind kNodeKinds[] = {{"NVIDIA A100-SXM4-80GB", 80, 8},
                               {"NVIDIA A100-SXM4-80GB", 80, 8},
                               {"NVIDIA H100 80GB HBM3", 80, 8},
                               {"NVIDIA H100 80GB HBM3", 80, 8},
                               {"NVIDIA GeForce GTX 1080", 8, 4}};

template <typename T, size_t N>
const T& pick(std::mt19937& rng, const T (&items)[N]) {
  return items[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

std::vector<WorkerView> make_pool(int workers, double busy_share, std::mt19937& rng) {
  std::bernoulli_distribution busy(busy_share);
  std::vector<WorkerView> pool;
  for (int w = 0; w < workers; ++w) {
    const NodeKind& kind = kNodeKinds[w % std::size(kNodeKinds)];
    WorkerView view;
    view.id = "node-" + std::to_string(w);
    for (int i = 0; i < kind.gpus; ++i)
      view.slots.push_back({i, kind.gpu_name, kind.memory_gb, busy(rng)});
    pool.push_back(std::move(view));
  }
  return pool;
}

std::vector<QueuedJob> make_queue(int jobs, int users, std::mt19937& rng) {
  static const int kGpus[] = {1, 1, 1, 1, 2, 2, 2, 4, 4, 8};
  static const char* const kTypes[] = {"any",  "any",  "any",  "a100",
                                       "a100", "h100", "h100", "gtx 1080"};
  static const double kMinMemory[] = {0, 0, 0, 16, 40, 80};
  static const int kPriority[] = {0, 0, 0, 0, 0, 1, 1, 2, 3};
  std::vector<QueuedJob> queue;
  for (int j = 0; j < jobs; ++j) {
    QueuedJob job;
    job.id = static_cast<uint64_t>(j) + 1;
    job.user = "user" + std::to_string(std::uniform_int_distribution<int>(0, users - 1)(rng));
    job.priority = pick(rng, kPriority);
    job.submit_ms = 1'700'000'000'000 + j * 250;
    job.gpus = pick(rng, kGpus);
    job.gpu_type = pick(rng, kTypes);
    job.min_gpu_memory_gb = job.gpu_type == std::string("gtx 1080") ? 0 : pick(rng, kMinMemory);
    queue.push_back(std::move(job));
  }
  return queue;
}

// Random decayed usage and GPUs in use per user; every fifth user has a quota of 32 GPUs.
std::pair<Usage, Policy> make_usage(int users, std::mt19937& rng) {
  Usage usage;
  Policy policy;
  for (int u = 0; u < users; ++u) {
    const std::string user = "user" + std::to_string(u);
    usage.decayed_gpu_seconds[user] = std::uniform_real_distribution<double>(0, 1e6)(rng);
    usage.gpus_in_use[user] = std::uniform_int_distribution<int>(0, 16)(rng);
    if (u % 5 == 0) policy.user_quota[user] = 32;
  }
  return {usage, policy};
}

// Throws unless every placement is a whole gang on distinct, free, matching slots of the pool.
void verify(const std::vector<WorkerView>& pool, const std::vector<QueuedJob>& queue,
            const Decision& decision) {
  std::map<std::string, const WorkerView*> workers;
  for (const WorkerView& view : pool) workers[view.id] = &view;
  std::map<uint64_t, const QueuedJob*> jobs;
  for (const QueuedJob& job : queue) jobs[job.id] = &job;
  std::set<std::pair<std::string, int>> taken;
  for (const Placement& placement : decision.placements) {
    const QueuedJob& job = *jobs.at(placement.job_id);
    if (static_cast<int>(placement.ranks.size()) != job.gpus)
      throw std::runtime_error("job " + std::to_string(job.id) + " got a partial gang");
    for (const SlotRef& ref : placement.ranks) {
      const auto& slots = workers.at(ref.worker_id)->slots;
      const auto slot = std::find_if(slots.begin(), slots.end(),
                                     [&](const Slot& s) { return s.index == ref.slot; });
      if (slot == slots.end() || slot->busy ||
          !slot_matches(*slot, job.gpu_type, job.min_gpu_memory_gb) ||
          !taken.insert({ref.worker_id, ref.slot}).second)
        throw std::runtime_error("job " + std::to_string(job.id) + " got a bad slot " +
                                 ref.worker_id + ":" + std::to_string(ref.slot));
    }
  }
  if (decision.placements.size() + decision.pending.size() != queue.size())
    throw std::runtime_error("a queued job is missing from the decision");
}

void run_row(const char* label, double busy_share, const std::vector<QueuedJob>& queue,
             const Usage& usage, const Policy& policy, int workers, int passes, uint32_t seed) {
  std::mt19937 rng(seed);
  const std::vector<WorkerView> pool = make_pool(workers, busy_share, rng);
  int gpus = 0, free_gpus = 0;
  for (const WorkerView& view : pool)
    for (const Slot& slot : view.slots) ++gpus, free_gpus += slot.busy ? 0 : 1;

  Decision decision = schedule(pool, queue, usage, policy);  // untimed: warms caches
  std::vector<double> ms;
  for (int pass = 0; pass < passes; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    decision = schedule(pool, queue, usage, policy);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  verify(pool, queue, decision);
  std::sort(ms.begin(), ms.end());
  int placed_gpus = 0;
  for (const Placement& placement : decision.placements)
    placed_gpus += static_cast<int>(placement.ranks.size());
  std::printf("%8s %7.1f %10d %7zu %7zu %12d %8zu %9.2f %10.2f %9.2f\n", label,
              100.0 * (gpus - free_gpus) / gpus, free_gpus, queue.size(),
              decision.placements.size(), placed_gpus, decision.pending.size(), ms.front(),
              ms[ms.size() / 2], ms.back());
}

}  // namespace

int main(int argc, char** argv) {
  int jobs = 10000, workers = 256, passes = 20;
  uint32_t seed = 1;
  CLI::App app{"scheduler_bench: milliseconds per gradpool scheduling pass"};
  app.add_option("--jobs", jobs, "queued jobs")->check(CLI::Range(1, 10000000));
  app.add_option("--workers", workers, "workers (8x A100, 8x H100, 4x GTX 1080 nodes in turn)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--passes", passes, "timed passes per configuration")
      ->check(CLI::Range(1, 100000));
  app.add_option("--seed", seed, "random seed of the pool and queue");
  CLI11_PARSE(app, argc, argv);

  constexpr int kUsers = 50;
  std::mt19937 rng(seed);
  const std::vector<QueuedJob> queue = make_queue(jobs, kUsers, rng);
  const auto [usage, policy] = make_usage(kUsers, rng);
  int gpus = 0;
  for (int w = 0; w < workers; ++w) gpus += kNodeKinds[w % std::size(kNodeKinds)].gpus;

  std::printf(
      "# gradpool scheduler_bench: %d workers (%d GPUs: 8x A100 80GB, 8x H100 80GB, "
      "4x GTX 1080 8GB nodes), %d queued jobs of %d users, seed %u\n",
      workers, gpus, jobs, kUsers, seed);
  std::printf("# one untimed pass, then %d timed passes per row; every decision verified\n#\n",
              passes);
  std::printf(
      "#   pool   busy%%  free_gpus    jobs  placed  placed_gpus  pending    min_ms  "
      "median_ms    max_ms\n");
  try {
    run_row("empty", 0.0, queue, usage, policy, workers, passes, seed + 1);
    run_row("half", 0.5, queue, usage, policy, workers, passes, seed + 2);
    run_row("nearfull", 0.95, queue, usage, policy, workers, passes, seed + 3);
    run_row("full", 1.0, queue, usage, policy, workers, passes, seed + 4);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scheduler_bench: verification failed: %s\n", e.what());
    return 1;
  }
  return 0;
}
