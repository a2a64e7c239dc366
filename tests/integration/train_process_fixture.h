// Helpers of the process-level tests of gradpool-train: start the real binary, write job specs,
// read what a run leaves behind (train_log.jsonl, adapters), and the TrainProcess fixture.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
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
#include "tests/child_process.h"
#include "tests/test_util.h"

namespace gradpool::testing {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;

// Generous: a run here takes a second or two, but CI machines are shared.
constexpr auto kDeadline = std::chrono::seconds(120);

// A running gradpool-train (args without the program name), output in <log>.out and <log>.err.
class Child : public ChildProcess {
 public:
  Child(const Args& args, const fs::path& log) : ChildProcess(with_program(args), log) {}

 private:
  static Args with_program(const Args& args) {
    Args full = {GRADPOOL_TRAIN_BIN};
    full.insert(full.end(), args.begin(), args.end());
    return full;
  }
};

struct Finished {
  int status;       // as Child::wait()
  std::string err;  // stderr
};

inline Finished run(const Args& args, const fs::path& log) {
  Child child(args, log);
  const int status = child.wait();
  return {status, child.stderr_text()};
}

// A job spec as top-level (key, YAML value) pairs, written in this order, one per line.
class Spec {
 public:
  Spec& set(const std::string& key, const std::string& value) {
    auto it = std::find_if(fields_.begin(), fields_.end(),
                           [&](const auto& field) { return field.first == key; });
    if (it == fields_.end()) it = fields_.insert(it, {key, ""});
    it->second = value;
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
inline std::vector<LoggedStep> read_steps(const fs::path& output) {
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
inline ::testing::AssertionResult wait_for_steps(Child& child, const fs::path& output,
                                                 size_t steps) {
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
inline void expect_same_tensors(const fs::path& a, const fs::path& b) {
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

// `output` logged each step 1..N exactly once with the losses of `reference`, and ended with the
// same adapter.
inline void expect_same_run(const fs::path& output, const fs::path& reference) {
  const std::vector<LoggedStep> got = read_steps(output), want = read_steps(reference);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].step, static_cast<int64_t>(i) + 1);
    EXPECT_NEAR(got[i].loss, want[i].loss, 1e-6 * std::abs(want[i].loss)) << "step " << i + 1;
  }
  expect_same_tensors(output / "adapter_model.safetensors",
                      reference / "adapter_model.safetensors");
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// One tiny random Llama and a small text dataset, shared by every test; each test gets its own
// directory, removed when it passes.
class TrainProcess : public ::testing::Test {
 protected:
  // ctest runs every test in a process of its own, so the shared files are made once per build of
  // gradpool-train, not once per process: in a private directory, renamed into place when complete.
  static void SetUpTestSuite() {
    // One thread per trainer: ctest runs several at once on a small CI box, where LibTorch's
    // OpenMP pool, busy-waiting on cores that other processes hold, is ten times slower.
    ::setenv("OMP_NUM_THREADS", "1", /*overwrite=*/0);
    const fs::path fresh = temp_dir("train-process-new");
    const auto built = fs::last_write_time(GRADPOOL_TRAIN_BIN).time_since_epoch().count();
    shared_ = fresh.parent_path() /
              ("train-process-shared-" + std::to_string(static_cast<uint64_t>(built)));
    if (fs::exists(shared_)) {
      fs::remove_all(fresh);
      return;
    }

    const Finished init = run({"init-model", "--preset", "tiny-llama", "--out",
                               (fresh / "model").string(), "--seed", "1"},
                              fresh / "init-model");
    ASSERT_EQ(init.status, 0) << init.err;
    std::ofstream data(fresh / "notes.jsonl");
    for (int i = 0; i < 64; ++i)
      data << nlohmann::json{{"text", "note " + std::to_string(i) + ": the quick brown fox jumps " +
                                          "over " + std::to_string(i * 7 % 13) + " lazy dogs."}}
                  .dump()
           << "\n";
    data.close();
    std::error_code lost_the_race;  // another process renamed its own copy first: use that one
    fs::rename(fresh, shared_, lost_the_race);
    if (lost_the_race) fs::remove_all(fresh);
  }

  void SetUp() override {
    dir_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
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

  // A run long enough for a poll to catch it mid-way, and the uninterrupted run that every
  // interrupted one must reproduce, in dir_/reference.
  static constexpr size_t kLongSteps = 24;
  Spec long_job(const std::string& output) const {
    return job(output).set("steps", std::to_string(kLongSteps));
  }
  void train_reference() { train_ok(command(long_job("reference"), "reference")); }

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
  void expect_rejected(const Spec& spec, const std::vector<std::string>& parts,
                       const Args& extra = {}) {
    const Finished done = train(command(spec, "bad", extra));
    EXPECT_EQ(done.status, 1) << done.err;
    EXPECT_TRUE(contains(done.err, "[error]")) << done.err;
    for (const auto& part : parts) EXPECT_TRUE(contains(done.err, part)) << done.err;
    EXPECT_FALSE(fs::exists(out("bad") / "adapter_model.safetensors"));
  }

  // A copy of the shared model that a test may damage.
  fs::path copy_model() const {
    const fs::path copy = dir_ / "model";
    fs::copy(model(), copy, fs::copy_options::recursive);
    return copy;
  }

  inline static fs::path shared_;
  fs::path dir_;
  int processes_ = 0;
};

}  // namespace gradpool::testing
