// CausalLM: a decoder-only transformer (GPT-2 or Llama family) holding a Hugging Face checkpoint's
// frozen weights, with LoRA branches that an adapter may attach to its projections.
//
// The model owns its base weights; a LoraAdapter owns the trainable LoRA tensors and points the
// Linear layers at them. Base weights live in the compute dtype (fp32, bf16 or fp16) on one device;
// norms, softmax and the loss run in fp32.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "common/model_config.h"

namespace gradpool {

class CheckpointDir;

// One low-rank update B·A of a projection, scaled: y += scaling · B(A(dropout(x))).
struct LoraBranch {
  at::Tensor A;  // [r, in], fp32 master weights (trainable)
  at::Tensor B;  // [out, r]
  double scaling = 1.0;
  double dropout = 0.0;
};

// A frozen projection y = x Wᵀ + b, named by its HF module path ("model.layers.0.self_attn.q_proj").
struct Linear {
  std::string name;
  at::Tensor weight;  // [out, in], even for GPT-2's Conv1D (transposed at load)
  at::Tensor bias;    // [out] or undefined
  const LoraBranch* lora = nullptr;  // not owned; set by LoraAdapter

  int64_t in_features() const { return weight.size(1); }
  int64_t out_features() const { return weight.size(0); }
  at::Tensor forward(const at::Tensor& x, bool training) const;
  // W + scaling·B·A in the weight's dtype: what PEFT's merge_and_unload writes.
  at::Tensor merged_weight() const;
};

struct ModelOptions {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;  // compute dtype of the frozen weights
};

class CausalLM {
 public:
  // Loads config.json and *.safetensors from an HF directory; Error naming file and tensor on any
  // missing tensor, wrong shape or unusable dtype.
  static std::unique_ptr<CausalLM> load(const std::string& dir, const ModelOptions& options);
  // A randomly initialised model (HF's init: normal(0, 0.02), norms 1, biases 0), for demos/tests.
  static std::unique_ptr<CausalLM> random(const ModelConfig& config, uint64_t seed,
                                          const ModelOptions& options);
  virtual ~CausalLM() = default;

  // input_ids [B, T] (int64) → logits [B, T, vocab] in fp32.
  virtual at::Tensor forward(const at::Tensor& input_ids, bool training) = 0;

  const ModelConfig& config() const { return config_; }
  const ModelOptions& options() const { return options_; }
  // Every projection LoRA may target, in module order (what PEFT walks).
  const std::vector<Linear*>& linears() const { return linears_; }

  // The weights under their HF names and layouts, with LoRA merged in when `merge_lora`.
  std::vector<std::pair<std::string, at::Tensor>> hf_state_dict(bool merge_lora) const;
  // Writes config.json + model.safetensors (atomically) to `dir`.
  void save_pretrained(const std::string& dir, bool merge_lora) const;

  // Where weights come from while a model is built: a checkpoint or a random initialiser.
  class WeightSource;
  enum class Init { kNormal, kOnes, kZeros };

 protected:
  CausalLM(ModelConfig config, ModelOptions options)
      : config_(std::move(config)), options_(std::move(options)) {}
  // Each architecture declares its weights through these while it is built.
  at::Tensor weight(WeightSource& source, const std::string& hf_name, at::IntArrayRef shape,
                    Init init, bool conv1d = false);
  Linear linear(WeightSource& source, const std::string& module, int64_t in, int64_t out,
                bool bias, bool conv1d);
  void register_linear(Linear* linear) { linears_.push_back(linear); }
  virtual void build(WeightSource& source) = 0;

 private:
  static std::unique_ptr<CausalLM> create(const ModelConfig& config, const ModelOptions& options);

  struct SavedWeight {
    std::string hf_name;
    at::Tensor tensor;  // shares storage with the model's member
    bool conv1d;        // stored [in, out] by HF; held [out, in] here
  };
  ModelConfig config_;
  ModelOptions options_;
  std::vector<Linear*> linears_;
  std::vector<SavedWeight> saved_;
};

// fp32 sum of token cross-entropies of next-token prediction: logits[:, t] predicts labels[:, t+1],
// labels of -100 ignored (HF's shift). Returns a 0-dim tensor; no host synchronisation.
at::Tensor causal_lm_loss_sum(const at::Tensor& logits, const at::Tensor& labels);

// Causal self-attention over [B, H, T, D] tensors; uses fused SDPA on torch 2.x.
at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

}  // namespace gradpool
