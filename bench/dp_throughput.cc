// dp_throughput: data-parallel training throughput of gradpool-train on one machine, in the
// manner of nccl-tests — a tiny harness that prints one table row per configuration.
//
// Every configuration trains the same job: the same model, global batch and micro-batch, so the
// same work per optimizer step. Only the split differs:
//   1 rank  × accum R·A   alone, with all --threads
//   1 rank  × accum R·A   alone, with one rank's share of the threads (--threads / R)
//   R ranks × accum A     Gloo on loopback (tcp:// rendezvous), each with its share of the threads
// Timings come from rank 0's train_log.jsonl: `step_s` (one optimizer step: batch assembly,
// forward/backward of every micro-batch, all-reduce, clip, AdamW) and `allreduce_s` (the all-reduce
// call, including the wait for slower ranks). The first --warmup steps are not timed.
//
//   dp_throughput [--bin PATH] [--preset tiny-llama] [--seq-len 128] [--global 8] [--micro 4]
//                 [--ranks 2] [--threads N] [--steps 30] [--warmup 5] [--lora-r 16] [--work DIR]
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/net.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

struct Options {
  std::string bin = GRADPOOL_TRAIN_BIN, preset = "tiny-llama", work = "/tmp/gradpool-dp-bench";
  int seq_len = 128, global = 8, micro = 4, ranks = 2, steps = 30, warmup = 5, lora_r = 16;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
};

Options parse(int argc, char** argv) {
  Options o;
  const std::map<std::string, int*> ints = {{"--seq-len", &o.seq_len}, {"--global", &o.global},
                                            {"--micro", &o.micro},     {"--ranks", &o.ranks},
                                            {"--steps", &o.steps},     {"--warmup", &o.warmup},
                                            {"--lora-r", &o.lora_r},   {"--threads", &o.threads}};
  const std::map<std::string, std::string*> strings = {
      {"--bin", &o.bin}, {"--preset", &o.preset}, {"--work", &o.work}};
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::runtime_error(flag + ": needs a value");
    if (ints.count(flag))
      *ints.at(flag) = std::stoi(argv[++i]);
    else if (strings.count(flag))
      *strings.at(flag) = argv[++i];
    else
      throw std::runtime_error("unknown flag " + flag + " (see the comment atop dp_throughput.cc)");
  }
  if (o.ranks < 2 || o.global % o.ranks != 0 || (o.global / o.ranks) % o.micro != 0)
    throw std::runtime_error("--global must split into --ranks (>= 2) shares of whole --micro");
  if (o.steps <= o.warmup) throw std::runtime_error("--steps must exceed --warmup");
  return o;
}

// Starts `args` with OMP_NUM_THREADS=threads, output to `log`; returns the pid.
pid_t spawn(std::vector<std::string> args, int threads, const fs::path& log) {
  std::vector<std::string> env = {"OMP_NUM_THREADS=" + std::to_string(threads)};
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "OMP_NUM_THREADS=", 16) != 0) env.push_back(*e);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  for (auto& e : env) envp.push_back(e.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(rc));
  return pid;
}

void wait_ok(pid_t pid, const fs::path& log) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream in(log);
    throw std::runtime_error("a process failed; its log " + log.string() + ":\n" +
                             std::string(std::istreambuf_iterator<char>(in), {}));
  }
}

// A random tiny model and enough varied text for every step to see new samples.
void prepare(const Options& o) {
  fs::create_directories(o.work);
  const fs::path model = fs::path(o.work) / ("model-" + o.preset);
  if (!fs::exists(model / "config.json"))
    wait_ok(spawn({o.bin, "init-model", "--preset", o.preset, "--out", model.string()}, o.threads,
                  fs::path(o.work) / "init-model.log"),
            fs::path(o.work) / "init-model.log");
  std::ofstream data(fs::path(o.work) / "text.jsonl");
  const char* words[] = {"gradient", "rank", "batch", "token", "adapter", "step", "pool", "loss"};
  uint64_t x = 88172645463325252ull;  // xorshift64: the same text every run
  const int64_t chars = int64_t{o.global} * o.seq_len * o.steps + 4096;
  for (int64_t written = 0; written < chars;) {
    std::string text;
    for (int w = 0; w < 40; ++w) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      text += std::string(words[x % 8]) + (w % 10 == 9 ? ". " : " ");
    }
    written += static_cast<int64_t>(text.size());
    data << nlohmann::json{{"text", text}}.dump() << "\n";
  }
}

struct Row {
  int ranks, accum, threads_per_rank;
  double step_ms, allreduce_ms, tokens_per_s;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

Row measure(const Options& o, int ranks, int threads) {
  const std::string name = "r" + std::to_string(ranks) + "t" + std::to_string(threads);
  const fs::path dir = fs::path(o.work) / name, spec = fs::path(o.work) / (name + ".yaml");
  fs::remove_all(dir);
  std::ofstream(spec) << "name: dp-bench\nmodel: "
                      << (fs::path(o.work) / ("model-" + o.preset)).string()
                      << "\ndataset: " << (fs::path(o.work) / "text.jsonl").string()
                      << "\nseq_len: " << o.seq_len << "\nlora: {r: " << o.lora_r
                      << ", alpha: " << 2 * o.lora_r
                      << ", dropout: 0.0, target_modules: all-linear}\nbatch: {global: " << o.global
                      << ", micro: " << o.micro << "}\nsteps: " << o.steps
                      << "\ncheckpoint_every: 0\nprecision: fp32\noutput: " << dir.string() << "\n";
  const std::string rendezvous =
      "tcp://127.0.0.1:" + std::to_string(gradpool::pick_free_tcp_port());
  std::vector<pid_t> pids;
  for (int r = 0; r < ranks; ++r) {
    std::vector<std::string> args = {o.bin, "--config", spec.string(), "--device", "cpu"};
    if (ranks > 1)
      args.insert(args.end(), {"--world-size", std::to_string(ranks), "--rank", std::to_string(r),
                               "--rendezvous", rendezvous, "--backend", "gloo"});
    pids.push_back(
        spawn(args, threads, fs::path(o.work) / (name + "-rank" + std::to_string(r) + ".log")));
  }
  for (int r = 0; r < ranks; ++r)
    wait_ok(pids[r], fs::path(o.work) / (name + "-rank" + std::to_string(r) + ".log"));

  std::vector<double> step_s, allreduce_s;
  std::ifstream log(dir / "train_log.jsonl");
  for (std::string line; std::getline(log, line);) {
    const auto json = nlohmann::json::parse(line);
    if (json.at("step").get<int>() <= o.warmup) continue;
    step_s.push_back(json.at("step_s"));
    allreduce_s.push_back(json.at("allreduce_s"));
  }
  double total_s = 0;
  for (const double s : step_s) total_s += s;
  const double tokens = double(o.global) * o.seq_len * static_cast<double>(step_s.size());
  return {ranks,
          o.global / ranks / o.micro,
          threads,
          1e3 * median(step_s),
          1e3 * median(allreduce_s),
          tokens / total_s};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    prepare(o);
    std::printf(
        "# gradpool dp_throughput: %s, CPU fp32, seq_len %d, global batch %d sequences (%d tokens) "
        "per step, micro %d, LoRA r %d all-linear\n# %d steps, the first %d untimed; %d threads "
        "shared by the ranks; Gloo on loopback; medians over the timed steps\n#\n",
        o.preset.c_str(), o.seq_len, o.global, o.global * o.seq_len, o.micro, o.lora_r, o.steps,
        o.warmup, o.threads);
    std::printf("# %6s %6s %8s %10s %13s %11s %11s\n", "ranks", "accum", "threads", "step ms",
                "allreduce ms", "allreduce%", "tokens/s");
    // Alone with every thread; alone with one rank's share of them (the work one rank of the
    // parallel run has, done twice over); then the ranks, sharing the threads.
    const int share = std::max(1, o.threads / o.ranks);
    std::vector<std::pair<int, int>> configs = {{1, o.threads}};
    if (share != o.threads) configs.push_back({1, share});
    configs.push_back({o.ranks, share});
    for (const auto& [ranks, threads] : configs) {
      const Row row = measure(o, ranks, threads);
      std::printf("  %6d %6d %8d %10.2f %13.2f %11.1f %11.0f\n", row.ranks, row.accum,
                  row.threads_per_rank, row.step_ms, row.allreduce_ms,
                  100 * row.allreduce_ms / row.step_ms, row.tokens_per_s);
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dp_throughput: %s\n", e.what());
    return 1;
  }
}
