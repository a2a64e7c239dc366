// Process-level tests of gradpool-train: every test runs the real binary on a tiny random model
// the way a worker or a user does (a spec file, --set overrides, signals), then checks what the
// process left behind: exit status, stderr, train_log.jsonl, checkpoints and the exported adapter.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/safetensors.h"
#include "tests/test_util.h"

extern char** environ;

namespace gradpool {
namespace {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;

// Generous: a run here takes a second or two, but CI machines are shared.
constexpr auto kDeadline = std::chrono::seconds(120);

// A running gradpool-train with stdout and stderr redirected to `<log>.out` and `<log>.err`.
// A child still running when this goes out of scope (a failed assertion) is killed and reaped.
class Child {
 public:
  Child(const Args& args, const fs::path& log) : err_path_(log.string() + ".err") {
    Args full = {GRADPOOL_TRAIN_BIN};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : full) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string out_path = log.string() + ".out";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      ADD_FAILURE() << "cannot start " << argv[0] << ": " << std::strerror(rc);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (running()) signal(SIGKILL);
    wait();
  }

  void signal(int sig) const { ::kill(pid_, sig); }

  bool running() {
    if (pid_ > 0 && ::waitpid(pid_, &raw_status_, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }

  // The exit status, or -N if signal N killed the process.
  int wait() {
    if (pid_ > 0 && ::waitpid(pid_, &raw_status_, 0) == pid_) pid_ = -1;
    return WIFEXITED(raw_status_) ? WEXITSTATUS(raw_status_) : -WTERMSIG(raw_status_);
  }

  std::string stderr_text() const { return read_file(err_path_); }

 private:
  pid_t pid_ = -1;
  int raw_status_ = 0;
  std::string err_path_;
};

struct Finished {
  int status;       // as Child::wait()
  std::string err;  // stderr
};

Finished run(const Args& args, const fs::path& log) {
  Child child(args, log);
  const int status = child.wait();
  return {status, child.stderr_text()};
}

// A job spec as top-level (key, YAML value) pairs, written in this order, one per line.
class Spec {
 public:
  Spec& set(const std::string& key, const std::string& value) {
    for (auto& field : fields_)
      if (field.first == key) return field.second = value, *this;
    fields_.emplace_back(key, value);
    return *this;
  }
  int line_of(const std::string& key) const {  // 1-based
    for (size_t i = 0; i < fields_.size(); ++i)
      if (fields_[i].first == key) return static_cast<int>(i) + 1;
    return 0;
  }
  void write(const fs::path& path) const {
    std::ofstream out(path);
    for (const auto& [key, value] : fields_) out << key << ": " << value << "\n";
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct LoggedStep {
  int64_t step;
  double loss;
};

// The complete lines of <output>/train_log.jsonl; a line still being written is not one.
std::vector<LoggedStep> read_steps(const fs::path& output) {
  std::vector<LoggedStep> steps;
  std::ifstream in(output / "train_log.jsonl");
  std::string line;
  while (std::getline(in, line) && !in.eof()) {
    const auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (json.is_object()) steps.push_back({json.at("step"), json.at("loss")});
  }
  return steps;
}

// Polls the child's train_log until it shows `steps` steps, while the child is still running.
::testing::AssertionResult wait_for_steps(Child& child, const fs::path& output, size_t steps) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (read_steps(output).size() < steps) {
    if (!child.running())
      return ::testing::AssertionFailure() << "exited with " << child.wait() << " after "
                                           << read_steps(output).size() << " steps:\n"
                                           << child.stderr_text();
    if (std::chrono::steady_clock::now() > deadline)
      return ::testing::AssertionFailure() << "no step " << steps << " in " << output;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return ::testing::AssertionSuccess();
}

// Both files hold the same tensors, byte for byte.
void expect_same_tensors(const fs::path& a, const fs::path& b) {
  const SafetensorsFile fa = SafetensorsFile::open(a.string());
  const SafetensorsFile fb = SafetensorsFile::open(b.string());
  ASSERT_EQ(fa.tensors().size(), fb.tensors().size());
  for (const auto& [name, info] : fa.tensors()) {
    ASSERT_TRUE(fb.contains(name)) << b << " lacks " << name;
    const TensorInfo& other = fb.info(name);
    ASSERT_EQ(info.shape, other.shape) << name;
    ASSERT_EQ(info.end - info.begin, other.end - other.begin) << name;
    EXPECT_EQ(std::memcmp(fa.data(name), fb.data(name), info.end - info.begin), 0)
        << name << " differs between " << a << " and " << b;
  }
}

// `run` logged each step 1..N exactly once with the losses of `reference`, and ended with the
// same adapter.
void expect_same_run(const fs::path& run, const fs::path& reference) {
  const std::vector<LoggedStep> got = read_steps(run), want = read_steps(reference);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].step, static_cast<int64_t>(i) + 1);
    EXPECT_NEAR(got[i].loss, want[i].loss, 1e-6 * std::abs(want[i].loss)) << "step " << i + 1;
  }
  expect_same_tensors(run / "adapter_model.safetensors", reference / "adapter_model.safetensors");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// One tiny random Llama and a small text dataset, shared by the tests of one process; each test
// gets its own directory, removed when it passes.
class TrainProcess : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One thread per trainer: ctest runs several at once on a small CI box, where LibTorch's
    // OpenMP pool, busy-waiting on cores that other processes hold, is ten times slower.
    ::setenv("OMP_NUM_THREADS", "1", /*overwrite=*/0);
    shared_ = testing::temp_dir("train-process-shared");
    const Finished init = run({"init-model", "--preset", "tiny-llama", "--out",
                               (shared_ / "model").string(), "--seed", "1"},
                              shared_ / "init-model");
    ASSERT_EQ(init.status, 0) << init.err;
    std::ofstream data(shared_ / "notes.jsonl");
    for (int i = 0; i < 64; ++i)
      data << nlohmann::json{{"text", "note " + std::to_string(i) + ": the quick brown fox jumps " +
                                          "over " + std::to_string(i * 7 % 13) + " lazy dogs."}}
                  .dump()
           << "\n";
  }
  static void TearDownTestSuite() { fs::remove_all(shared_); }

  void SetUp() override {
    dir_ = testing::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  fs::path model() const { return shared_ / "model"; }
  fs::path out(const std::string& name) const { return dir_ / name; }

  // A quick job (fp32 on the CPU, dropout on so that resuming must restore the RNG) that trains
  // into dir_/<output>.
  Spec job(const std::string& output) const {
    return Spec()
        .set("name", "it")
        .set("model", model().string())
        .set("dataset", (shared_ / "notes.jsonl").string())
        .set("seq_len", "32")
        .set("lora", "{r: 4, alpha: 8, dropout: 0.1, target_modules: [q_proj, v_proj]}")
        .set("optimizer", "{lr: 1.0e-2, warmup_steps: 2}")
        .set("batch", "{global: 4, micro: 2}")
        .set("steps", "10")
        .set("checkpoint_every", "2")
        .set("precision", "fp32")
        .set("output", out(output).string());
  }

  // Writes `spec` beside its output and returns the command line that trains it.
  Args command(const Spec& spec, const std::string& output, const Args& extra = {}) const {
    const fs::path path = dir_ / (output + ".yaml");
    spec.write(path);
    Args args = {"--config", path.string(), "--device", "cpu"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  fs::path next_log() { return dir_ / ("process-" + std::to_string(++processes_)); }
  Finished train(const Args& args) { return run(args, next_log()); }

  // Runs `args` to the end and expects success.
  void train_ok(const Args& args) {
    const Finished done = train(args);
    ASSERT_EQ(done.status, 0) << done.err;
  }

  // Starts `args`, waits for `steps` logged steps and sends `sig`; returns the exit status.
  int interrupt(const Args& args, const fs::path& output, size_t steps, int sig) {
    Child child(args, next_log());
    EXPECT_TRUE(wait_for_steps(child, output, steps));
    child.signal(sig);
    return child.wait();
  }

  // Bad input: exit status 1, an [error] line on stderr naming every one of `parts`, and no
  // adapter exported.
  void expect_rejected(const Args& args, const fs::path& output,
                       const std::vector<std::string>& parts) {
    const Finished done = train(args);
    EXPECT_EQ(done.status, 1) << done.err;
    EXPECT_TRUE(contains(done.err, "[error]")) << done.err;
    for (const auto& part : parts) EXPECT_TRUE(contains(done.err, part)) << done.err;
    EXPECT_FALSE(fs::exists(output / "adapter_model.safetensors"));
  }
  void expect_rejected(const Spec& spec, const std::vector<std::string>& parts,
                       const Args& extra = {}) {
    expect_rejected(command(spec, "bad", extra), out("bad"), parts);
  }

  // A copy of the shared model that a test may damage.
  fs::path copy_model() const {
    const fs::path copy = dir_ / "model";
    fs::copy(model(), copy, fs::copy_options::recursive);
    return copy;
  }

  static fs::path shared_;
  fs::path dir_;
  int processes_ = 0;
};

fs::path TrainProcess::shared_;

// --- Interruption and resume ---------------------------------------------------------------------

// The killed run's 24 steps leave the poll ample time to catch it between step 5 and the end.
TEST_F(TrainProcess, SigkilledRunResumesWithTheSameLossesAndAdapter) {
  const Spec spec = job("killed").set("steps", "24");
  train_ok(command(job("reference").set("steps", "24"), "reference"));

  const Args args = command(spec, "killed");
  ASSERT_EQ(interrupt(args, out("killed"), 5, SIGKILL), -SIGKILL);
  ASSERT_LT(read_steps(out("killed")).size(), 24u) << "finished before it could be killed";
  ASSERT_TRUE(fs::exists(out("killed") / "checkpoints" / "LATEST"));
  ASSERT_FALSE(fs::exists(out("killed") / "adapter_model.safetensors"));

  const Finished rerun = train(args);
  ASSERT_EQ(rerun.status, 0) << rerun.err;
  expect_same_run(out("killed"), out("reference"));
}

// Killed before any checkpoint: the rerun starts from scratch, and its log must not keep the
// killed run's steps next to its own.
TEST_F(TrainProcess, RunKilledBeforeItsFirstCheckpointStartsOver) {
  const Spec spec = job("killed").set("steps", "24").set("checkpoint_every", "0");
  train_ok(command(job("reference").set("steps", "24"), "reference"));

  const Args args = command(spec, "killed");
  ASSERT_EQ(interrupt(args, out("killed"), 2, SIGKILL), -SIGKILL);
  ASSERT_FALSE(fs::exists(out("killed") / "checkpoints" / "LATEST"));
  train_ok(args);
  expect_same_run(out("killed"), out("reference"));
}

TEST_F(TrainProcess, SigtermCheckpointsExits143AndResumes) {
  const Spec spec = job("stopped").set("steps", "24").set("checkpoint_every", "0");
  train_ok(command(job("reference").set("steps", "24"), "reference"));

  const Args args = command(spec, "stopped");
  ASSERT_EQ(interrupt(args, out("stopped"), 3, SIGTERM), 143);
  // checkpoint_every 0: the checkpoint on disk can only be the one SIGTERM asked for.
  const fs::path checkpoints = out("stopped") / "checkpoints";
  std::string latest = read_file((checkpoints / "LATEST").string());
  latest.erase(latest.find_last_not_of("\n ") + 1);
  const auto state =
      nlohmann::json::parse(read_file((checkpoints / latest / "trainer_state.json").string()));
  EXPECT_EQ(state.at("step").get<size_t>(), read_steps(out("stopped")).size());
  EXPECT_FALSE(fs::exists(out("stopped") / "adapter_model.safetensors"));

  train_ok(args);
  expect_same_run(out("stopped"), out("reference"));
}

// A checkpoint of another job (here: another global batch) is refused, not silently mixed in;
// --no-resume starts over, and that new run's own checkpoints resume as usual.
TEST_F(TrainProcess, RefusesAnotherJobsCheckpointUnlessNoResume) {
  const Args args = command(job("out"), "out");
  train_ok(args);

  Args other = args;
  other.insert(other.end(), {"--set", "batch.global=8", "--set", "steps=4"});
  const Finished refused = train(other);
  EXPECT_EQ(refused.status, 1) << refused.err;
  EXPECT_TRUE(contains(refused.err, (out("out") / "checkpoints").string())) << refused.err;
  EXPECT_TRUE(contains(refused.err, "global_batch=8")) << refused.err;

  Args fresh = other;
  fresh.push_back("--no-resume");
  train_ok(fresh);
  std::vector<LoggedStep> steps = read_steps(out("out"));
  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(steps.back().step, 4);

  // Rerunning the finished job resumes from its last checkpoint (step 4), which must be its own.
  const Finished again = train(other);
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(read_steps(out("out")).size(), 4u);
}

// --- Training itself ----------------------------------------------------------------------------

TEST_F(TrainProcess, LossFallsOnFortunes) {
  const fs::path dir = "/usr/share/games/fortunes";
  Args make = {"make-dataset", "--out", (dir_ / "fortunes.jsonl").string()};
  for (const char* name : {"fortunes", "debian", "goedel", "disclaimer"})
    if (fs::is_regular_file(dir / name)) make.push_back((dir / name).string());
  if (make.size() == 3)
    GTEST_SKIP() << "no fortune files in " << dir << " (Debian package 'fortunes-min')";
  train_ok(make);

  train_ok(command(job("fortunes")
                       .set("dataset", (dir_ / "fortunes.jsonl").string())
                       .set("seq_len", "64")
                       .set("lora", "{r: 8, alpha: 16, dropout: 0.0, target_modules: all-linear}")
                       .set("optimizer", "{lr: 3.0e-3, warmup_steps: 3}")
                       .set("batch", "{global: 8, micro: 8}")
                       .set("steps", "30")
                       .set("checkpoint_every", "0"),
                   "fortunes"));
  const std::vector<LoggedStep> steps = read_steps(out("fortunes"));
  ASSERT_EQ(steps.size(), 30u);
  double last5 = 0;
  for (size_t i = steps.size() - 5; i < steps.size(); ++i) last5 += steps[i].loss / 5;
  EXPECT_LT(last5, steps.front().loss);
}

// merge: true must write a complete Hugging Face directory, which gradpool-train can train on.
TEST_F(TrainProcess, MergedModelIsALoadableCheckpoint) {
  train_ok(command(job("merge").set("steps", "2").set("merge", "true"), "merge"));
  const fs::path merged = out("merge") / "merged";
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.json"})
    ASSERT_TRUE(fs::exists(merged / file)) << file;

  // The adapter is merged into the projections it targets, and only there.
  const SafetensorsFile base = SafetensorsFile::open((model() / "model.safetensors").string());
  const SafetensorsFile after = SafetensorsFile::open((merged / "model.safetensors").string());
  const auto same = [&](const std::string& name) {
    const TensorInfo& info = base.info(name);
    return info.end - info.begin == after.info(name).end - after.info(name).begin &&
           std::memcmp(base.data(name), after.data(name), info.end - info.begin) == 0;
  };
  EXPECT_FALSE(same("model.layers.0.self_attn.q_proj.weight"));
  EXPECT_TRUE(same("model.layers.0.self_attn.k_proj.weight"));

  train_ok(command(job("on-merged").set("model", merged.string()).set("steps", "1"), "on-merged"));
  EXPECT_EQ(read_steps(out("on-merged")).size(), 1u);
  EXPECT_TRUE(fs::exists(out("on-merged") / "adapter_model.safetensors"));
}

// --- Bad input: each must fail with exit status 1 and say where the problem is ------------------

TEST_F(TrainProcess, RejectsSeqLenBeyondTheModelsPositions) {
  expect_rejected(job("bad").set("seq_len", "1024"), {"seq_len", model().string() + "/config.json"});
}

TEST_F(TrainProcess, RejectsUnknownTargetModule) {
  expect_rejected(job("bad"), {"lora.target_modules", "'nope'"},
                  {"--set", "lora.target_modules=[nope]"});
}

TEST_F(TrainProcess, RejectsEmptyDataset) {
  std::ofstream(dir_ / "empty.jsonl");
  expect_rejected(job("bad").set("dataset", (dir_ / "empty.jsonl").string()),
                  {(dir_ / "empty.jsonl").string(), "empty"});
}

TEST_F(TrainProcess, RejectsInvalidJsonLineWithItsLineNumber) {
  std::ofstream(dir_ / "broken.jsonl") << "{\"text\": \"fine\"}\n{\"text\": \"cut off\n";
  expect_rejected(job("bad").set("dataset", (dir_ / "broken.jsonl").string()),
                  {(dir_ / "broken.jsonl").string() + ":2:", "invalid JSON"});
}

TEST_F(TrainProcess, RejectsModelConfigWithoutHiddenSize) {
  const fs::path copy = copy_model();
  auto config = nlohmann::json::parse(read_file((copy / "config.json").string()));
  ASSERT_EQ(config.erase("hidden_size"), 1u);
  std::ofstream(copy / "config.json") << config.dump(2);
  expect_rejected(job("bad").set("model", copy.string()),
                  {(copy / "config.json").string(), "hidden_size"});
}

TEST_F(TrainProcess, RejectsTruncatedWeights) {
  const fs::path copy = copy_model();
  fs::resize_file(copy / "model.safetensors", fs::file_size(copy / "model.safetensors") / 2);
  expect_rejected(job("bad").set("model", copy.string()),
                  {(copy / "model.safetensors").string()});
}

// The header claims twice the rows of its first tensor, with no data added: a reader that trusts
// it would read past the end of the file.
TEST_F(TrainProcess, RejectsSafetensorsHeaderThatLies) {
  const fs::path copy = copy_model();
  const std::string bytes = read_file((copy / "model.safetensors").string());
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);  // little-endian, as is every host we build on
  auto header = nlohmann::ordered_json::parse(bytes.substr(8, header_size));
  std::string victim;
  for (auto& [name, tensor] : header.items())
    if (name != "__metadata__" && victim.empty()) {
      victim = name;
      tensor["shape"][0] = tensor["shape"][0].get<int64_t>() * 2;
    }
  std::string new_header = header.dump();
  new_header.resize((new_header.size() + 7) / 8 * 8, ' ');
  const uint64_t new_size = new_header.size();
  std::ofstream file(copy / "model.safetensors", std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(&new_size), 8);
  file << new_header << bytes.substr(8 + header_size);
  file.close();
  expect_rejected(job("bad").set("model", copy.string()),
                  {(copy / "model.safetensors").string(), victim});
}

TEST_F(TrainProcess, RejectsBadSpecValueWithFieldAndLine) {
  const Spec spec = job("bad").set("lora", "{r: -1}");
  expect_rejected(spec, {(dir_ / "bad.yaml").string() + ":" + std::to_string(spec.line_of("lora")) +
                             ":",
                         "lora.r", "-1"});
}

TEST_F(TrainProcess, RejectsMissingDataset) {
  expect_rejected(job("bad").set("dataset", (dir_ / "nowhere.jsonl").string()),
                  {"dataset", (dir_ / "nowhere.jsonl").string()});
}

TEST_F(TrainProcess, InitModelRejectsUnknownPreset) {
  const Finished done =
      train({"init-model", "--preset", "nope", "--out", (dir_ / "model").string()});
  EXPECT_EQ(done.status, 1) << done.err;
  EXPECT_TRUE(contains(done.err, "[error]")) << done.err;
  EXPECT_TRUE(contains(done.err, "'nope'")) << done.err;
  EXPECT_TRUE(contains(done.err, "tiny-llama")) << done.err;  // lists the known presets
  EXPECT_FALSE(fs::exists(dir_ / "model" / "config.json"));
}

}  // namespace
}  // namespace gradpool
