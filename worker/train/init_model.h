// init-model: writes a randomly initialised Hugging Face checkpoint of a given shape, since no
// pretrained weights can be downloaded where gradpool is built and tested. The directory it makes
// (config.json, model.safetensors, tokenizer.json) loads in transformers and in gradpool alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/model_config.h"

namespace gradpool {

struct ModelPreset {
  std::string name;
  std::string description;
  ModelConfig config;
};

// tiny-llama, tiny-gpt2 (seconds on a CPU), gpt2-124m, tinyllama-1.1b, llama-3.2-1b (real shapes).
const std::vector<ModelPreset>& model_presets();
const ModelPreset& find_preset(const std::string& name);  // Error listing the presets

// A byte-level BPE tokenizer.json with no merges: the 256 byte symbols of GPT-2's byte-to-unicode
// map, then <|endoftext|> (id 256). It encodes any text; a model trained on it learns bytes.
std::string byte_level_tokenizer_json();

// Writes config.json + model.safetensors (random, from `seed`) and a tokenizer to `out_dir`:
// a copy of `tokenizer_path` when given, else byte_level_tokenizer_json().
void init_model(const ModelConfig& config, const std::string& out_dir, uint64_t seed,
                const std::string& tokenizer_path);

}  // namespace gradpool
