#include "worker/train/checkpoint.h"

#include <filesystem>
#include <mutex>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/file_util.h"
#include "common/safetensors.h"
#include "worker/train/torch_util.h"

namespace gradpool {
namespace fs = std::filesystem;
namespace {

constexpr const char* kLatest = "LATEST";

std::string step_dir_name(int64_t step) { return fmt::format("step-{:06d}", step); }

// The generators whose state decides the run's randomness (LoRA dropout): the CPU one, and the
// CUDA one of the current device when there is one.
std::vector<std::pair<std::string, at::Generator>> generators(const at::Device& device) {
  std::vector<std::pair<std::string, at::Generator>> result{
      {"rng.cpu", at::globalContext().defaultGenerator(at::kCPU)}};
  if (device.is_cuda()) result.emplace_back("rng.cuda", at::globalContext().defaultGenerator(device));
  return result;
}

}  // namespace

CheckpointStore::CheckpointStore(std::string root, int keep) : root_(std::move(root)), keep_(keep) {}

void CheckpointStore::save(const TrainerState& state, const LoraAdapter& adapter, AdamW& optimizer,
                           const std::string& base_model_path) const {
  const std::string name = step_dir_name(state.step);
  const fs::path dir = fs::path(root_) / name;
  fs::create_directories(dir);
  adapter.save_peft(dir.string(), base_model_path);

  const at::Tensor exp_avg = optimizer.exp_avg().to(at::kCPU).contiguous();
  const at::Tensor exp_avg_sq = optimizer.exp_avg_sq().to(at::kCPU).contiguous();
  std::vector<at::Tensor> rng_states;
  std::vector<TensorView> views{view_of("exp_avg", exp_avg), view_of("exp_avg_sq", exp_avg_sq)};
  for (auto& [key, generator] : generators(optimizer.exp_avg().device())) {
    std::lock_guard<std::mutex> lock(generator.mutex());
    rng_states.push_back(generator.get_state().contiguous());
    views.push_back(view_of(key, rng_states.back()));
  }
  write_safetensors((dir / "optimizer.safetensors").string(), views, {{"format", "gradpool"}});

  const nlohmann::json json = {{"step", state.step},
                               {"optimizer_steps", optimizer.steps_taken()},
                               {"data_cursor", cursor_to_json(state.cursor)},
                               {"loss_scale", state.loss_scale},
                               {"clean_steps", state.clean_steps},
                               {"fingerprint", state.fingerprint}};
  write_file_atomic((dir / "trainer_state.json").string(), json.dump(2) + "\n");
  write_file_atomic((fs::path(root_) / kLatest).string(), name + "\n");

  // Prune all but the newest `keep_` checkpoints up to this one. Later steps can only be left by an
  // earlier run that this one started over (--no-resume): they must not push out the checkpoint
  // just written, which LATEST names.
  std::vector<fs::path> old;
  for (const auto& entry : fs::directory_iterator(root_)) {
    const std::string entry_name = entry.path().filename().string();
    if (entry.is_directory() && entry_name.rfind("step-", 0) == 0 && entry_name < name)
      old.push_back(entry.path());
  }
  std::sort(old.begin(), old.end());
  const size_t keep_older = keep_ > 1 ? keep_ - 1 : 0;
  for (size_t i = 0; i + keep_older < old.size(); ++i) fs::remove_all(old[i]);
}

std::string CheckpointStore::latest_dir() const {
  const fs::path latest = fs::path(root_) / kLatest;
  std::string name = read_file(latest.string());
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  if (name.rfind("step-", 0) != 0 || name.find('/') != std::string::npos)
    fail("{}: does not name a checkpoint directory: '{}'", latest.string(), name);
  return (fs::path(root_) / name).string();
}

std::optional<TrainerState> CheckpointStore::latest_state() const {
  if (!fs::exists(fs::path(root_) / kLatest)) return std::nullopt;
  const std::string path = latest_dir() + "/trainer_state.json";
  try {
    const nlohmann::json json = nlohmann::json::parse(read_file(path));
    TrainerState state;
    state.step = json.at("step").get<int64_t>();
    state.cursor = cursor_from_json(json.at("data_cursor"), path + ": data_cursor");
    state.loss_scale = json.at("loss_scale").get<double>();
    state.clean_steps = json.at("clean_steps").get<int64_t>();
    state.fingerprint = json.at("fingerprint").get<std::string>();
    if (state.step < 0) fail("{}: step: negative", path);
    return state;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: corrupt checkpoint state: {}", path, e.what());
  }
}

void CheckpointStore::restore(LoraAdapter& adapter, AdamW& optimizer,
                              const at::Device& device) const {
  const std::string dir = latest_dir();
  adapter.load_peft_weights(dir + "/adapter_model.safetensors");
  const std::string path = dir + "/optimizer.safetensors";
  const SafetensorsFile file = SafetensorsFile::open(path);
  at::NoGradGuard no_grad;
  for (auto [key, tensor] : {std::pair{"exp_avg", &optimizer.exp_avg()},
                             std::pair{"exp_avg_sq", &optimizer.exp_avg_sq()}}) {
    if (!file.contains(key) || file.info(key).numel() != tensor->numel())
      fail("{}: '{}' missing or of the wrong size (expected {} values)", path, key,
           tensor->numel());
    tensor->copy_(load_tensor(file, key, at::kFloat, tensor->device()));
  }
  const auto state = nlohmann::json::parse(read_file(dir + "/trainer_state.json"));
  optimizer.set_steps_taken(state.at("optimizer_steps").get<int64_t>());
  for (auto& [key, generator] : generators(device)) {
    if (!file.contains(key)) {
      spdlog::warn("{}: no '{}' state; random streams restart", path, key);
      continue;
    }
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(load_tensor(file, key, at::kByte, at::kCPU));
  }
}

}  // namespace gradpool
