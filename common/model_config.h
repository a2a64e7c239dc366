// The architecture of a base model, read from a Hugging Face config.json.
//
// Two families are supported: GPT-2 (learned positions, LayerNorm, gelu_new MLP, fused c_attn) and
// Llama (RoPE, RMSNorm, SiLU-gated MLP, grouped-query attention), which Mistral shares. Anything in
// a config that would change the numerics and that the model code does not implement (rope
// scaling, biases on Llama projections, another activation...) is rejected here, with the field
// named, rather than silently computing something else than transformers would.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace gradpool {

enum class ModelArch { kGpt2, kLlama };

struct ModelConfig {
  ModelArch arch = ModelArch::kLlama;
  std::string model_type;  // "gpt2" | "llama" | "mistral" (mistral has the llama arch)
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;  // == num_heads for GPT-2
  int64_t intermediate_size = 0;
  int64_t max_positions = 0;
  double norm_eps = 0;    // LayerNorm (GPT-2) or RMSNorm (Llama) epsilon
  double rope_theta = 0;  // Llama only
  bool tie_word_embeddings = false;
  std::string activation;   // "gelu_new" (GPT-2) or "silu" (Llama)
  std::string torch_dtype;  // the checkpoint's dtype as written, "float32" if absent
  std::optional<int64_t> bos_token_id, eos_token_id;
  // Mistral: attention only sees this many previous tokens; absent means full attention. Training
  // on longer sequences than this is not supported by the model code.
  std::optional<int64_t> sliding_window;

  int64_t head_dim() const { return hidden_size / num_heads; }
};

// Reads and validates `path` (a config.json); errors name the file and the field.
ModelConfig load_model_config(const std::string& path);

// Validates an already parsed config; `source` names it in error messages.
ModelConfig parse_model_config(const nlohmann::json& config, const std::string& source);

// The config.json that transformers 5's save_pretrained writes for this model (architecture
// fields only, no dropout or generation settings); transformers loads it back to the same model.
nlohmann::json to_hf_json(const ModelConfig& config);

}  // namespace gradpool
