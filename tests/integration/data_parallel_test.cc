// Data-parallel training in real processes: gradpool-train ranks on loopback (Gloo over a TCP or
// file rendezvous; mpirun when the build has MPI), each run checked against one rank training the
// same job alone (DESIGN.md, "Batch arithmetic"). Every sample has its own completion length, so a
// step's label-token count (train_log.jsonl) tells which samples it trained on; it is checked
// against the global sample order, whose slicing data_parallel_order_test.cc proves.
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/net.h"
#include "tests/adapter_compare.h"
#include "tests/child_process.h"
#include "tests/test_util.h"
#include "worker/train/dataset.h"
#include "worker/train/sample_order.h"
#include "worker/train/tokenizer.h"

namespace gradpool {
namespace {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(120);  // a whole run; CI machines are shared
constexpr double kRelTol = 1e-5;                       // summation order differs across splits
constexpr int64_t kSteps = 12, kGlobal = 4, kSamples = 24, kSeed = 7;  // 2 epochs of 6 steps
constexpr int kCollectiveTimeoutS = 3;

// One thread per rank: ranks share the cores, and the comparisons do not depend on it.
class Child : public testing::ChildProcess {
 public:
  Child(Args args, const fs::path& log)
      : ChildProcess(std::move(args), log,
                     {"OMP_NUM_THREADS=1", "OMPI_ALLOW_RUN_AS_ROOT=1",
                      "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"}) {}
};
using Ranks = std::vector<std::unique_ptr<Child>>;

struct LoggedStep {
  int64_t step;
  double loss;
  int64_t label_tokens;
};

// The complete lines of <output>/train_log.jsonl; a line still being written is not one.
std::vector<LoggedStep> read_steps(const fs::path& output) {
  std::vector<LoggedStep> steps;
  std::ifstream in(output / "train_log.jsonl");
  std::string line;
  while (std::getline(in, line) && !in.eof()) {
    const auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (json.is_object())
      steps.push_back({json.at("step"), json.at("loss"), json.at("label_tokens")});
  }
  return steps;
}

// The step of <output>/checkpoints/LATEST ("step-000003" → 3), or 0 if there is none yet.
int64_t latest_checkpoint(const fs::path& output) {
  std::ifstream in(output / "checkpoints" / "LATEST");
  std::string name;
  if (!(in >> name) || name.rfind("step-", 0) != 0) return 0;
  return std::stoll(name.substr(5));
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// One tiny random Llama and a prompt/completion dataset whose samples have 2..25 label tokens;
// every test gets its own directory, removed when it passes.
class DataParallel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_ = testing::temp_dir("data-parallel-shared");
    Child init({GRADPOOL_TRAIN_BIN, "init-model", "--preset", "tiny-llama", "--out",
                (shared_ / "model").string(), "--seed", "1"},
               shared_ / "init-model");
    ASSERT_EQ(init.wait(), 0) << init.output();
    std::ofstream data(shared_ / "qa.jsonl");
    for (int i = 0; i < kSamples; ++i)
      data << nlohmann::json{{"prompt", "q" + std::to_string(i) + ":"},
                             {"completion",
                              std::string("the quick brown fox jumps").substr(0, i + 1)}}
                  .dump()
           << "\n";
    data.close();
    // Label tokens of each sample after the model's shift, from gradpool's own loader.
    const Dataset dataset = load_jsonl_dataset(
        (shared_ / "qa.jsonl").string(), DataFormat::kPromptCompletion,
        Tokenizer::from_file((shared_ / "model" / "tokenizer.json").string()), 32);
    ASSERT_EQ(dataset.samples.size(), kSamples);
    label_tokens_.clear();
    for (int64_t i = 0; i < kSamples; ++i) {
      const LabelRange range = dataset.samples.label_range(i);
      label_tokens_.push_back(std::max(0, range.end - std::max(range.begin, 1)));
    }
  }
  static void TearDownTestSuite() {
    fs::remove_all(shared_);
    reference_.clear();
  }
  void SetUp() override {
    dir_ = testing::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  fs::path out(const std::string& name) const { return dir_ / name; }

  // Writes the job (fp32, dropout 0, a checkpoint every step) into dir_ and returns the command
  // line of one rank, `extra` appended.
  Args command(const std::string& output, const Args& extra = {}) const {
    const fs::path spec = dir_ / (output + ".yaml");
    std::ofstream(spec)
        << "name: dp\nmodel: " << (shared_ / "model").string()
        << "\ndataset: " << (shared_ / "qa.jsonl").string()
        << "\nformat: prompt_completion\nseq_len: 32\nseed: " << kSeed
        << "\nlora: {r: 4, alpha: 8, dropout: 0.0, target_modules: [q_proj, v_proj]}"
        << "\noptimizer: {lr: 1.0e-2, warmup_steps: 2}\nbatch: {global: " << kGlobal
        << ", micro: 1}\nsteps: " << kSteps
        << "\ncheckpoint_every: 1\nprecision: fp32\noutput: " << out(output).string() << "\n";
    Args args = {GRADPOOL_TRAIN_BIN, "--config", spec.string(), "--device", "cpu"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  std::string tcp_rendezvous() const {
    return "tcp://127.0.0.1:" + std::to_string(pick_free_tcp_port());
  }
  std::string file_rendezvous() { return "file://" + (dir_ / ("store-" + next_name())).string(); }
  std::string next_name() { return std::to_string(++processes_); }

  // Starts `world` ranks of the job into `output`; per_rank[r] is appended to rank r's flags.
  Ranks start(const std::string& output, int world, const std::string& rendezvous,
              const std::vector<Args>& per_rank = {}, const Args& extra = {}) {
    Ranks ranks;
    for (int r = 0; r < world; ++r) {
      Args args = command(output, extra);
      if (world > 1)
        args.insert(args.end(), {"--world-size", std::to_string(world), "--rank", std::to_string(r),
                                 "--rendezvous", rendezvous, "--backend", "gloo"});
      if (r < static_cast<int>(per_rank.size()))
        args.insert(args.end(), per_rank[r].begin(), per_rank[r].end());
      ranks.push_back(std::make_unique<Child>(
          args, dir_ / (output + "-rank" + std::to_string(r) + "-" + next_name())));
    }
    return ranks;
  }
  // Runs them to the end; every rank must succeed.
  void train(const std::string& output, int world, const std::string& rendezvous = "",
             const std::vector<Args>& per_rank = {}) {
    Ranks ranks = start(output, world, rendezvous, per_rank);
    for (size_t r = 0; r < ranks.size(); ++r) {
      const std::optional<int> status = ranks[r]->wait_until(Clock::now() + kDeadline);
      ASSERT_EQ(status, 0) << "rank " << r << ":\n" << ranks[r]->output();
    }
  }

  // One rank, accumulating the global batch in 4 micro-batches: what every split must match.
  // Trained once per test process.
  const fs::path& reference() {
    if (reference_.empty()) {
      const fs::path saved = dir_;
      dir_ = shared_;
      train("reference", 1);
      reference_ = out("reference");
      dir_ = saved;
    }
    return reference_;
  }

  // The run logged steps 1..kSteps once each, with the reference's losses (kRelTol) and the
  // label-token counts of the global sample order, and exported the reference's adapter.
  void expect_equivalent(const fs::path& run) {
    const std::vector<LoggedStep> got = read_steps(run), want = read_steps(reference());
    ASSERT_EQ(want.size(), static_cast<size_t>(kSteps));
    ASSERT_EQ(got.size(), want.size()) << run;
    SampleOrder order(kSamples, kSeed);
    int64_t epoch_tokens = 0, all_tokens = 0;
    for (const int64_t n : label_tokens_) all_tokens += n;
    for (size_t i = 0; i < got.size(); ++i) {
      int64_t expected_tokens = 0;
      for (const int64_t sample : order.next_global_batch(kGlobal))
        expected_tokens += label_tokens_[sample];
      EXPECT_EQ(got[i].step, static_cast<int64_t>(i) + 1);
      EXPECT_NEAR(got[i].loss, want[i].loss, kRelTol * std::abs(want[i].loss)) << "step " << i + 1;
      EXPECT_EQ(got[i].label_tokens, expected_tokens) << "step " << i + 1;
      epoch_tokens += got[i].label_tokens;
      if ((i + 1) * kGlobal % kSamples == 0) {  // an epoch ends with this step
        EXPECT_EQ(epoch_tokens, all_tokens) << "epoch ending at step " << i + 1;
        epoch_tokens = 0;
      }
    }
    testing::expect_close_adapters(run / "adapter_model.safetensors",
                                   reference() / "adapter_model.safetensors", kRelTol);
  }

  // Polls until `done()`, while every rank is still running.
  static ::testing::AssertionResult poll(Ranks& ranks, const std::function<bool()>& done) {
    for (const auto deadline = Clock::now() + kDeadline; !done();) {
      for (auto& rank : ranks)
        if (!rank->running())
          return ::testing::AssertionFailure() << "exited with " << rank->wait() << ":\n"
                                               << rank->output();
      if (Clock::now() > deadline) return ::testing::AssertionFailure() << "timed out";
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return ::testing::AssertionSuccess();
  }

  // Starts the job on `world` ranks and SIGKILLs them all once a checkpoint of step 3 or later
  // is on disk; the job must not have finished. Returns the checkpointed step.
  int64_t kill_after_step_3(const std::string& output, int world) {
    Ranks ranks = start(output, world, world > 1 ? tcp_rendezvous() : "");
    EXPECT_TRUE(poll(ranks, [&] { return latest_checkpoint(out(output)) >= 3; }));
    for (auto& rank : ranks) rank->signal(SIGKILL);
    for (auto& rank : ranks) EXPECT_EQ(rank->wait(), -SIGKILL);
    const int64_t step = latest_checkpoint(out(output));
    EXPECT_LT(step, kSteps) << "finished before it could be killed";
    EXPECT_FALSE(fs::exists(out(output) / "adapter_model.safetensors"));
    return step;
  }

  // Stops rank `victim` of a 2-rank job with SIGSTOP after step 1; the other rank must exit with
  // status 3, saying that `victim` did not arrive. (The deadline only bounds the test: a loaded CI
  // box may take a while past the collective timeout to get there.)
  void expect_stalled_rank_named(int victim, const std::string& rendezvous) {
    const int survivor = 1 - victim;
    Ranks ranks = start(
        "hang", 2, rendezvous, {},
        {"--collective-timeout", std::to_string(kCollectiveTimeoutS), "--set", "steps=100000"});
    ASSERT_TRUE(poll(ranks, [&] { return !read_steps(out("hang")).empty(); }));
    ranks[victim]->signal(SIGSTOP);
    const auto stopped = Clock::now();
    const std::optional<int> status =
        ranks[survivor]->wait_until(stopped + std::chrono::seconds(kCollectiveTimeoutS + 60));
    const double waited = std::chrono::duration<double>(Clock::now() - stopped).count();
    ranks[victim]->signal(SIGCONT);
    ranks[victim]->signal(SIGKILL);
    ASSERT_TRUE(status.has_value()) << "rank " << survivor << " still running " << waited
                                    << " s after rank " << victim << " stopped";
    const std::string log = ranks[survivor]->output();
    EXPECT_EQ(*status, 3) << log;
    const size_t critical = log.find("[critical]");
    ASSERT_NE(critical, std::string::npos) << log;
    const std::string message = log.substr(critical, log.find('\n', critical) - critical);
    const size_t missing = message.find("did not arrive:");
    ASSERT_NE(missing, std::string::npos) << message;
    EXPECT_TRUE(contains(message.substr(missing), "rank " + std::to_string(victim))) << message;
    EXPECT_FALSE(contains(message.substr(missing), "rank " + std::to_string(survivor))) << message;
  }

  static fs::path shared_, reference_;
  static std::vector<int64_t> label_tokens_;
  fs::path dir_;
  int processes_ = 0;
};

fs::path DataParallel::shared_, DataParallel::reference_;
std::vector<int64_t> DataParallel::label_tokens_;

// --- Equivalence: the split does not change what is learned ------------------------------------

TEST_F(DataParallel, TwoRanksOfAccumTwoMatchOneRankOfAccumFour) {
  train("even", 2, tcp_rendezvous());
  expect_equivalent(out("even"));
}

TEST_F(DataParallel, UnevenSplitThreeAndOneMatchesOneRank) {
  train("uneven", 2, file_rendezvous(), {{"--local-batch", "3"}, {"--local-batch", "1"}});
  expect_equivalent(out("uneven"));
}

TEST_F(DataParallel, MpirunTwoRanksMatchOneRank) {
  if (std::system("command -v mpirun > /dev/null") != 0)
    GTEST_SKIP() << "mpirun is not installed (Debian: openmpi-bin)";
  Args args = {"mpirun", "-np", "2", "--oversubscribe"};
  const Args rank = command("mpi", {"--backend", "mpi"});
  args.insert(args.end(), rank.begin(), rank.end());
  Child mpirun(args, dir_ / "mpirun");
  const std::optional<int> status = mpirun.wait_until(Clock::now() + kDeadline);
  const std::string log = mpirun.output();
  if (contains(log, "this build has no MPI"))
    GTEST_SKIP() << "gradpool-train --backend mpi: this build has no MPI";
  ASSERT_EQ(status, 0) << log;
  expect_equivalent(out("mpi"));
}

// --- Resume with another world size --------------------------------------------------------------

TEST_F(DataParallel, TwoRanksKilledAfterStep3ResumeOnOneRank) {
  const int64_t step = kill_after_step_3("resumed", 2);
  ASSERT_GE(step, 3);
  train("resumed", 1);
  expect_equivalent(out("resumed"));
}

TEST_F(DataParallel, OneRankKilledAfterStep3ResumesOnTwoRanks) {
  const int64_t step = kill_after_step_3("resumed", 1);
  ASSERT_GE(step, 3);
  train("resumed", 2, file_rendezvous());
  expect_equivalent(out("resumed"));
}

// --- A stalled rank is named, not waited for forever ---------------------------------------------

TEST_F(DataParallel, StoppedRankOneIsNamedByRankZero) {
  expect_stalled_rank_named(1, tcp_rendezvous());
}

// Rank 0 also hosts the TCP rendezvous store: rank 1 cannot even read the arrival counters.
TEST_F(DataParallel, StoppedRankZeroIsNamedByRankOne) {
  expect_stalled_rank_named(0, tcp_rendezvous());
}

// --- Bad shares
// -----------------------------------------------------------------------------------

TEST_F(DataParallel, LocalBatchesThatDoNotSumToTheGlobalBatchAreRejected) {
  Ranks ranks =
      start("bad", 2, file_rendezvous(), {{"--local-batch", "3"}, {"--local-batch", "2"}});
  for (size_t r = 0; r < ranks.size(); ++r) {
    const std::optional<int> status = ranks[r]->wait_until(Clock::now() + kDeadline);
    const std::string log = ranks[r]->output();
    EXPECT_EQ(status, 1) << "rank " << r << ":\n" << log;
    EXPECT_TRUE(contains(log, "[error]")) << log;
    EXPECT_TRUE(contains(log, "--local-batch")) << log;
    EXPECT_TRUE(contains(log, "[3, 2]")) << log;
  }
  Child alone(command("bad", {"--local-batch", "3"}), dir_ / "alone");
  EXPECT_EQ(alone.wait_until(Clock::now() + kDeadline), 1) << alone.output();
  EXPECT_TRUE(contains(alone.output(), "--local-batch")) << alone.output();
  EXPECT_FALSE(fs::exists(out("bad") / "adapter_model.safetensors"));
}

}  // namespace
}  // namespace gradpool
