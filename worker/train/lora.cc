#include "worker/train/lora.h"

#include <cmath>

#include "common/error.h"
#include "common/file_util.h"
#include "common/safetensors.h"
#include "worker/train/torch_util.h"

namespace gradpool {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool selects(const std::string& target, const std::string& module) {
  return target == "all-linear" || module == target || ends_with(module, "." + target);
}

std::string peft_key(const std::string& module, const char* which) {
  return "base_model.model." + module + "." + which + ".weight";
}

}  // namespace

double LoraConfig::scaling() const {
  return use_rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r);
}

LoraAdapter::LoraAdapter(CausalLM& model, const LoraConfig& config, uint64_t seed)
    : model_(model), config_(config) {
  if (config.r <= 0) fail("lora.r: must be positive, got {}", config.r);
  if (config.target_modules.empty()) fail("lora.target_modules: must name at least one module");
  std::vector<std::string> all_names;
  for (Linear* linear : model.linears()) all_names.push_back(linear->name);
  for (const auto& target : config.target_modules) {
    bool found = false;
    for (const auto& name : all_names) found = found || selects(target, name);
    if (!found)
      fail("lora.target_modules: '{}' matches no projection of this {} model (its projections "
           "are named like '{}')",
           target, model.config().model_type, fmt::join(all_names.begin(),
                                                         all_names.begin() + std::min<size_t>(7, all_names.size()), "', '"));
  }

  // Lay out [A, B] of each selected projection back to back in one flat buffer.
  int64_t total = 0;
  std::vector<std::pair<Linear*, int64_t>> selected;
  for (Linear* linear : model.linears()) {
    bool chosen = false;
    for (const auto& target : config.target_modules) chosen = chosen || selects(target, linear->name);
    if (!chosen) continue;
    selected.emplace_back(linear, total);
    total += config.r * (linear->in_features() + linear->out_features());
  }
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(model.options().device);
  params_ = at::zeros({total}, f32);
  grads_ = at::zeros({total}, f32);

  at::Generator generator = at::detail::createCPUGenerator(seed);
  entries_.reserve(selected.size());
  for (const auto& [linear, offset] : selected) {
    const int64_t in = linear->in_features(), out = linear->out_features(), r = config.r;
    auto view = [&](at::Tensor& flat, int64_t at, int64_t rows, int64_t cols) {
      return flat.narrow(0, at, rows * cols).view({rows, cols});
    };
    Entry entry{linear, {}};
    entry.branch.A = view(params_, offset, r, in);
    entry.branch.B = view(params_, offset + r * in, out, r);
    entry.branch.scaling = config.scaling();
    entry.branch.dropout = config.dropout;
    {
      // PEFT: kaiming_uniform_(A, a=√5) = U(-1/√in, 1/√in); B = 0.
      at::NoGradGuard no_grad;
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      entry.branch.A.copy_(at::empty({r, in}).uniform_(-bound, bound, generator));
    }
    for (auto* tensor : {&entry.branch.A, &entry.branch.B}) tensor->requires_grad_(true);
    // Autograd accumulates in place into a defined .grad: point it into the flat buffer.
    entry.branch.A.mutable_grad() = view(grads_, offset, r, in);
    entry.branch.B.mutable_grad() = view(grads_, offset + r * in, out, r);
    entries_.push_back(std::move(entry));
  }
  for (Entry& entry : entries_) entry.linear->lora = &entry.branch;
}

LoraAdapter::~LoraAdapter() {
  for (Entry& entry : entries_) entry.linear->lora = nullptr;
}

std::vector<std::pair<std::string, at::Tensor>> LoraAdapter::peft_state() const {
  std::vector<std::pair<std::string, at::Tensor>> state;
  for (const Entry& entry : entries_) {
    state.emplace_back(peft_key(entry.linear->name, "lora_A"),
                       entry.branch.A.detach().to(at::kCPU).contiguous());
    state.emplace_back(peft_key(entry.linear->name, "lora_B"),
                       entry.branch.B.detach().to(at::kCPU).contiguous());
  }
  return state;
}

void LoraAdapter::load_peft_weights(const std::string& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  at::NoGradGuard no_grad;
  for (Entry& entry : entries_) {
    for (auto [which, tensor] : {std::pair{"lora_A", &entry.branch.A}, {"lora_B", &entry.branch.B}}) {
      const std::string key = peft_key(entry.linear->name, which);
      if (!file.contains(key)) fail("{}: adapter has no tensor '{}'", path, key);
      const TensorInfo& info = file.info(key);
      if (at::IntArrayRef(info.shape) != tensor->sizes())
        fail("{}: tensor '{}' has shape [{}], expected [{}]", path, key,
             fmt::join(info.shape, ", "), fmt::join(tensor->sizes(), ", "));
      tensor->copy_(load_tensor(file, key, at::kFloat, tensor->device()));
    }
  }
  const size_t expected = 2 * entries_.size();
  if (file.tensors().size() != expected)
    fail("{}: adapter holds {} tensors but the configured targets give {}", path,
         file.tensors().size(), expected);
}

nlohmann::json LoraAdapter::peft_config_json(const std::string& base_model_path) const {
  const bool conv1d = model_.config().arch == ModelArch::kGpt2;
  nlohmann::json target_modules = config_.target_modules;
  // PEFT writes lora_alpha as the user gave it: an integer unless it has a fraction.
  const nlohmann::json alpha = config_.alpha == std::floor(config_.alpha)
                                   ? nlohmann::json(static_cast<int64_t>(config_.alpha))
                                   : nlohmann::json(config_.alpha);
  if (config_.target_modules == std::vector<std::string>{"all-linear"}) target_modules = "all-linear";
  // Every field PEFT 0.21 writes, with its defaults, so that any PEFT version that knows LoRA
  // reads the settings it knows and new versions see exactly what they wrote themselves.
  return {
      {"alora_invocation_tokens", nullptr}, {"alpha_pattern", nlohmann::json::object()},
      {"arrow_config", nullptr}, {"auto_mapping", nullptr},
      {"base_model_name_or_path", base_model_path.empty() ? nlohmann::json()
                                                         : nlohmann::json(base_model_path)},
      {"bias", "none"}, {"corda_config", nullptr}, {"ensure_weight_tying", false},
      {"eva_config", nullptr}, {"exclude_modules", nullptr}, {"fan_in_fan_out", conv1d},
      {"inference_mode", true}, {"init_lora_weights", true}, {"kasa_config", nullptr},
      {"layer_replication", nullptr}, {"layers_pattern", nullptr},
      {"layers_to_transform", nullptr}, {"loftq_config", nlohmann::json::object()},
      {"lora_alpha", alpha}, {"lora_bias", false}, {"lora_dropout", config_.dropout},
      {"lora_ga_config", nullptr}, {"megatron_config", nullptr},
      {"megatron_core", "megatron.core"}, {"modules_to_save", nullptr},
      {"monteclora_config", nullptr}, {"peft_type", "LORA"}, {"peft_version", "0.21.0"},
      {"qalora_group_size", 16}, {"r", config_.r}, {"rank_pattern", nlohmann::json::object()},
      {"revision", nullptr}, {"target_modules", target_modules}, {"target_parameters", nullptr},
      {"task_type", "CAUSAL_LM"}, {"trainable_token_indices", nullptr}, {"use_bdlora", nullptr},
      {"use_dora", false}, {"use_qalora", false}, {"use_rslora", config_.use_rslora},
      {"velora_config", nullptr}};
}

void LoraAdapter::save_peft(const std::string& dir, const std::string& base_model_path) const {
  const auto state = peft_state();
  std::vector<TensorView> views;
  for (const auto& [name, tensor] : state) views.push_back(view_of(name, tensor));
  write_safetensors(dir + "/adapter_model.safetensors", views, {{"format", "pt"}});
  write_file_atomic(dir + "/adapter_config.json",
                    peft_config_json(base_model_path).dump(2) + "\n");
}

LoraConfig LoraAdapter::read_peft_config(const std::string& dir) {
  const std::string path = dir + "/adapter_config.json";
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
  auto field = [&](const char* name) -> const nlohmann::json& {
    if (!json.is_object() || !json.contains(name)) fail("{}: missing field '{}'", path, name);
    return json.at(name);
  };
  try {
    if (field("peft_type").get<std::string>() != "LORA")
      fail("{}: peft_type: only LORA adapters can be trained", path);
    auto unsupported = [&](const char* name, bool active) {
      if (active) fail("{}: {}: not supported by gradpool", path, name);
    };
    unsupported("use_dora", json.value("use_dora", false));
    unsupported("bias", json.value("bias", std::string("none")) != "none");
    unsupported("rank_pattern", !json.value("rank_pattern", nlohmann::json::object()).empty());
    unsupported("alpha_pattern", !json.value("alpha_pattern", nlohmann::json::object()).empty());
    unsupported("modules_to_save", !json.value("modules_to_save", nlohmann::json()).is_null());
    for (const char* selector : {"exclude_modules", "layers_to_transform", "layers_pattern"})
      unsupported(selector, !json.value(selector, nlohmann::json()).is_null());
    LoraConfig config;
    config.r = field("r").get<int64_t>();
    config.alpha = field("lora_alpha").get<double>();
    config.dropout = json.value("lora_dropout", 0.0);
    config.use_rslora = json.value("use_rslora", false);
    const auto& targets = field("target_modules");
    if (targets.is_string()) {
      // PEFT full-matches any other string as a regular expression against module paths, which
      // gradpool does not implement: its suffix rule would select other modules than PEFT did.
      const std::string target = targets.get<std::string>();
      if (target != "all-linear")
        fail(
            "{}: target_modules: regular expression '{}' not supported (list module names, "
            "or use \"all-linear\")",
            path, target);
      config.target_modules = {target};
    } else {
      config.target_modules = targets.get<std::vector<std::string>>();
    }
    return config;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: {}", path, e.what());
  }
}

}  // namespace gradpool
