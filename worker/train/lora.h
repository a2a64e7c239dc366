// LoraAdapter: the trainable part of a job — one low-rank update per targeted projection, in
// Hugging Face PEFT's layout, names and file format.
//
// Every LoRA tensor is a view into one flat fp32 buffer, and its gradient a view into another, so
// that the optimizer, gradient clipping and the data-parallel all-reduce each touch one contiguous
// tensor (DDP's "gradient as bucket view"). The adapter points the model's Linear layers at its
// branches for as long as it lives; the model must outlive it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "worker/train/model.h"

namespace gradpool {

struct LoraConfig {
  int64_t r = 8;
  double alpha = 16;
  double dropout = 0.0;
  bool use_rslora = false;  // scaling alpha/√r instead of alpha/r (Kalajdzievski, 2023)
  std::vector<std::string> target_modules;  // PEFT names ("q_proj") or {"all-linear"}

  double scaling() const;
};

class LoraAdapter {
 public:
  // Attaches branches to every projection of `model` that config.target_modules selects (PEFT's
  // rule: the module path equals a target or ends with "." + target). A is Kaiming-uniform from
  // `seed` and B is zero, as PEFT initialises them, so the adapter starts as the identity.
  // A target that selects nothing is an Error naming it and the model's projections.
  LoraAdapter(CausalLM& model, const LoraConfig& config, uint64_t seed);
  ~LoraAdapter();
  LoraAdapter(const LoraAdapter&) = delete;
  LoraAdapter& operator=(const LoraAdapter&) = delete;

  const LoraConfig& config() const { return config_; }
  at::Tensor& params() { return params_; }  // flat fp32, [numel]
  at::Tensor& grads() { return grads_; }    // flat fp32, same layout
  int64_t numel() const { return params_.numel(); }
  void zero_grad() { grads_.zero_(); }

  // PEFT state: "base_model.model.<module>.lora_A.weight" → CPU fp32 tensor, in module order.
  std::vector<std::pair<std::string, at::Tensor>> peft_state() const;
  // Loads adapter_model.safetensors written by PEFT (or by save_peft); every key must be present
  // with the expected shape; Error naming the file and key otherwise.
  void load_peft_weights(const std::string& path);
  // Writes adapter_model.safetensors and adapter_config.json into `dir`, as PEFT does.
  void save_peft(const std::string& dir, const std::string& base_model_path) const;

  // adapter_config.json as PEFT 0.21 writes it for this adapter.
  nlohmann::json peft_config_json(const std::string& base_model_path) const;
  // Reads the LoRA settings of a PEFT adapter directory; Error for adapters gradpool cannot train
  // (DoRA, rank/alpha patterns, bias training, modules_to_save, ...).
  static LoraConfig read_peft_config(const std::string& dir);

 private:
  struct Entry {
    Linear* linear;
    LoraBranch branch;
  };
  CausalLM& model_;
  LoraConfig config_;
  std::vector<Entry> entries_;  // reserved once: the Linears hold pointers into it
  at::Tensor params_, grads_;
};

}  // namespace gradpool
