#include "worker/train/model.h"

#include <cmath>
#include <set>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/file_util.h"
#include "common/safetensors.h"
#include "worker/train/architectures.h"
#include "worker/train/torch_util.h"

namespace gradpool {

// ---- Linear ---------------------------------------------------------------------------------

at::Tensor Linear::forward(const at::Tensor& x, bool training) const {
  at::Tensor y = at::linear(x, weight, bias);
  if (lora) {
    // PEFT: result + lora_B(lora_A(dropout(x))) * scaling, with the fp32 master weights cast to
    // the compute dtype so that both matmuls run at the model's precision.
    const at::Tensor input = lora->dropout > 0 ? at::dropout(x, lora->dropout, training) : x;
    const at::Tensor down = at::linear(input, lora->A.to(x.scalar_type()));
    y = y + at::linear(down, lora->B.to(x.scalar_type())) * lora->scaling;
  }
  return y;
}

at::Tensor Linear::merged_weight() const {
  if (!lora) return weight;
  at::NoGradGuard no_grad;
  return (weight.to(at::kFloat) + at::matmul(lora->B, lora->A) * lora->scaling)
      .to(weight.scalar_type());
}

// ---- Weight sources ---------------------------------------------------------------------------

class CausalLM::WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The tensor `hf_name` in its HF shape, as fp32 on the CPU or already in `options`' dtype/device.
  virtual at::Tensor get(const std::string& hf_name, at::IntArrayRef shape, Init init) = 0;
};

namespace {

std::string shape_str(at::IntArrayRef shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

// Reads weights from an HF checkpoint directory, accepting both `transformer.h.0…` and bare
// `h.0…` GPT-2 names; remembers which tensors were used so that leftovers can be reported.
class CheckpointSource final : public CausalLM::WeightSource {
 public:
  CheckpointSource(const std::string& dir, const ModelOptions& options)
      : dir_(CheckpointDir::open(dir)), options_(options) {}

  at::Tensor get(const std::string& hf_name, at::IntArrayRef shape, CausalLM::Init) override {
    const std::string name = resolve(hf_name);
    const TensorInfo& info = dir_.info(name);
    const std::string& path = dir_.file_of(name).path();
    if (info.dtype != DType::F32 && info.dtype != DType::F16 && info.dtype != DType::BF16 &&
        info.dtype != DType::F64)
      fail("{}: tensor '{}' has dtype {}, expected a floating-point type (F32, F16, BF16)", path,
           name, dtype_name(info.dtype));
    if (at::IntArrayRef(info.shape) != shape)
      fail("{}: tensor '{}' has shape {} but config.json implies {}", path, name,
           shape_str(info.shape), shape_str(shape));
    used_.insert(name);
    return load_tensor(dir_, name, options_.dtype, options_.device);
  }

  // Names in the checkpoint that no weight of the model claimed.
  std::vector<std::string> unused() const {
    std::vector<std::string> left;
    for (const auto& name : dir_.names())
      if (!used_.count(name)) left.push_back(name);
    return left;
  }

 private:
  std::string resolve(const std::string& hf_name) const {
    if (dir_.contains(hf_name)) return hf_name;
    const std::string prefix = "transformer.";
    if (hf_name.rfind(prefix, 0) == 0 && dir_.contains(hf_name.substr(prefix.size())))
      return hf_name.substr(prefix.size());
    fail("{}: checkpoint has no tensor '{}'", dir_.names().empty() ? "checkpoint" : dir_path(),
         hf_name);
  }
  std::string dir_path() const { return dir_.file_of(dir_.names().front()).path(); }

  CheckpointDir dir_;
  ModelOptions options_;
  std::set<std::string> used_;
};

// Random weights as HF initialises them (normal(0, 0.02) matrices, unit norms, zero biases).
class RandomSource final : public CausalLM::WeightSource {
 public:
  explicit RandomSource(uint64_t seed) : generator_(at::detail::createCPUGenerator(seed)) {}

  at::Tensor get(const std::string&, at::IntArrayRef shape, CausalLM::Init init) override {
    switch (init) {
      case CausalLM::Init::kOnes: return at::ones(shape);
      case CausalLM::Init::kZeros: return at::zeros(shape);
      case CausalLM::Init::kNormal: break;
    }
    return at::normal(0.0, 0.02, shape, generator_);
  }

 private:
  at::Generator generator_;
};

const char* hf_dtype_name(at::ScalarType type) {
  if (type == at::kBFloat16) return "bfloat16";
  if (type == at::kHalf) return "float16";
  return "float32";
}

// Buffers and duplicates that HF checkpoints carry but that are not weights of the model.
bool ignorable(const std::string& name, const ModelConfig& config) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".attn.bias") || ends_with(".attn.masked_bias") ||
         ends_with("rotary_emb.inv_freq") ||
         (config.tie_word_embeddings && name == "lm_head.weight");
}

}  // namespace

// ---- CausalLM ---------------------------------------------------------------------------------

at::Tensor CausalLM::weight(WeightSource& source, const std::string& hf_name,
                            at::IntArrayRef shape, Init init, bool conv1d) {
  at::Tensor tensor = source.get(hf_name, shape, init).to(options_.device, options_.dtype);
  if (conv1d) tensor = tensor.t().contiguous();  // HF Conv1D keeps [in, out]
  saved_.push_back({hf_name, tensor, conv1d});
  return tensor;
}

Linear CausalLM::linear(WeightSource& source, const std::string& module, int64_t in, int64_t out,
                        bool bias, bool conv1d) {
  Linear layer;
  layer.name = module;
  layer.weight = conv1d ? weight(source, module + ".weight", {in, out}, Init::kNormal, true)
                        : weight(source, module + ".weight", {out, in}, Init::kNormal);
  if (bias) layer.bias = weight(source, module + ".bias", {out}, Init::kZeros);
  return layer;
}

std::unique_ptr<CausalLM> CausalLM::create(const ModelConfig& config, const ModelOptions& options) {
  switch (config.arch) {
    case ModelArch::kGpt2: return make_gpt2(config, options);
    case ModelArch::kLlama: return make_llama(config, options);
  }
  fail("unsupported architecture");
}

std::unique_ptr<CausalLM> CausalLM::load(const std::string& dir, const ModelOptions& options) {
  const ModelConfig config = load_model_config(dir + "/config.json");
  auto model = create(config, options);
  CheckpointSource source(dir, options);
  at::NoGradGuard no_grad;
  model->build(source);
  std::vector<std::string> unused;
  for (const auto& name : source.unused())
    if (!ignorable(name, config)) unused.push_back(name);
  if (!unused.empty())
    spdlog::warn("{}: {} checkpoint tensors are not used by the model, e.g. '{}'", dir,
                 unused.size(), unused.front());
  return model;
}

std::unique_ptr<CausalLM> CausalLM::random(const ModelConfig& config, uint64_t seed,
                                           const ModelOptions& options) {
  auto model = create(config, options);
  RandomSource source(seed);
  at::NoGradGuard no_grad;
  model->build(source);
  return model;
}

std::vector<std::pair<std::string, at::Tensor>> CausalLM::hf_state_dict(bool merge_lora) const {
  std::vector<std::pair<std::string, at::Tensor>> state;
  for (const auto& saved : saved_) {
    at::Tensor tensor = saved.tensor;
    if (merge_lora) {
      for (const Linear* layer : linears_)
        if (layer->lora && saved.hf_name == layer->name + ".weight") tensor = layer->merged_weight();
    }
    if (saved.conv1d) tensor = tensor.t();
    state.emplace_back(saved.hf_name, tensor.to(at::kCPU).contiguous());
  }
  return state;
}

void CausalLM::save_pretrained(const std::string& dir, bool merge_lora) const {
  const auto state = hf_state_dict(merge_lora);
  std::vector<TensorView> views;
  views.reserve(state.size());
  for (const auto& [name, tensor] : state) views.push_back(view_of(name, tensor));
  ModelConfig saved_config = config_;
  saved_config.torch_dtype = hf_dtype_name(options_.dtype);
  write_file_atomic(dir + "/config.json", to_hf_json(saved_config).dump(2) + "\n");
  write_safetensors(dir + "/model.safetensors", views, {{"format", "pt"}});
}

// ---- Shared pieces of the forward pass ------------------------------------------------------

at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
#else
  const int64_t T = q.size(-2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale;
  const at::Tensor future = at::ones({T, T}, q.options().dtype(at::kBool)).triu(1);
  scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  return at::matmul(at::softmax(scores, -1, at::kFloat).to(q.scalar_type()), v);
#endif
}

at::Tensor causal_lm_loss_sum(const at::Tensor& logits, const at::Tensor& labels) {
  const int64_t vocab = logits.size(-1);
  const at::Tensor predictions = logits.narrow(1, 0, logits.size(1) - 1).to(at::kFloat);
  const at::Tensor targets = labels.narrow(1, 1, labels.size(1) - 1);
  return at::cross_entropy_loss(predictions.reshape({-1, vocab}), targets.reshape({-1}), {},
                                at::Reduction::Sum, -100);
}

}  // namespace gradpool
