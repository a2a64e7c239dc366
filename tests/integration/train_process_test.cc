// Process-level tests of gradpool-train: every test runs the real binary on a tiny random model
// the way a worker or a user does (a spec file, --set overrides, signals), then checks what the
// process left behind: exit status, stderr, train_log.jsonl, checkpoints and the exported adapter.
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/safetensors.h"
#include "tests/integration/train_process_fixture.h"

namespace gradpool::testing {
namespace {

// --- Interruption and resume ---------------------------------------------------------------------

TEST_F(TrainProcess, SigkilledRunResumesWithTheSameLossesAndAdapter) {
  const Spec spec = long_job("killed");
  train_reference();

  const Args args = command(spec, "killed");
  ASSERT_EQ(interrupt(args, out("killed"), 5, SIGKILL), -SIGKILL);
  ASSERT_LT(read_steps(out("killed")).size(), kLongSteps) << "finished before it was killed";
  ASSERT_TRUE(fs::exists(out("killed") / "checkpoints" / "LATEST"));
  ASSERT_FALSE(fs::exists(out("killed") / "adapter_model.safetensors"));

  const Finished rerun = train(args);
  ASSERT_EQ(rerun.status, 0) << rerun.err;
  expect_same_run(out("killed"), out("reference"));
}

// Killed before any checkpoint: the rerun starts from scratch, and its log must not keep the
// killed run's steps next to its own.
TEST_F(TrainProcess, RunKilledBeforeItsFirstCheckpointStartsOver) {
  const Spec spec = long_job("killed").set("checkpoint_every", "0");
  train_reference();

  const Args args = command(spec, "killed");
  ASSERT_EQ(interrupt(args, out("killed"), 2, SIGKILL), -SIGKILL);
  ASSERT_FALSE(fs::exists(out("killed") / "checkpoints" / "LATEST"));
  train_ok(args);
  expect_same_run(out("killed"), out("reference"));
}

TEST_F(TrainProcess, SigtermCheckpointsExits143AndResumes) {
  const Spec spec = long_job("stopped").set("checkpoint_every", "0");
  train_reference();

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
    GTEST_SKIP() << "no fortune files in " << dir << "; install Debian's 'fortunes' package";
  train_ok(make);

  train_ok(command(job("fortunes")
                       .set("dataset", (dir_ / "fortunes.jsonl").string())
                       .set("lora", "{r: 8, alpha: 16, dropout: 0.0, target_modules: all-linear}")
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
  expect_rejected(job("bad").set("seq_len", "1024"),
                  {"seq_len", model().string() + "/config.json"});
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
  expect_rejected(job("bad").set("model", copy.string()), {(copy / "model.safetensors").string()});
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
  expect_rejected(spec,
                  {(dir_ / "bad.yaml").string() + ":" + std::to_string(spec.line_of("lora")) + ":",
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
}  // namespace gradpool::testing
