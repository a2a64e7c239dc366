#include "worker/train/init_model.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file_util.h"
#include "worker/train/model.h"

namespace gradpool {
namespace {

ModelConfig llama(int64_t vocab, int64_t hidden, int64_t layers, int64_t heads, int64_t kv_heads,
                  int64_t intermediate, int64_t positions, double theta, bool tied) {
  ModelConfig c;
  c.arch = ModelArch::kLlama;
  c.model_type = "llama";
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.intermediate_size = intermediate;
  c.max_positions = positions;
  c.norm_eps = 1e-5;
  c.rope_theta = theta;
  c.tie_word_embeddings = tied;
  c.activation = "silu";
  c.torch_dtype = "float32";
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  return c;
}

ModelConfig gpt2(int64_t vocab, int64_t hidden, int64_t layers, int64_t heads, int64_t positions) {
  ModelConfig c;
  c.arch = ModelArch::kGpt2;
  c.model_type = "gpt2";
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = heads;
  c.intermediate_size = 4 * hidden;
  c.max_positions = positions;
  c.norm_eps = 1e-5;
  c.tie_word_embeddings = true;
  c.activation = "gelu_new";
  c.torch_dtype = "float32";
  return c;
}

// GPT-2's reversible map from bytes to printable unicode characters (the ByteLevel alphabet).
std::string byte_symbol(int byte) {
  auto printable = [](int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  int code = byte;
  if (!printable(byte)) {
    int n = 0;
    for (int b = 0; b < byte; ++b) n += !printable(b);
    code = 256 + n;
  }
  std::string utf8;  // code < 0x800: one or two bytes
  if (code < 0x80) {
    utf8 += static_cast<char>(code);
  } else {
    utf8 += static_cast<char>(0xC0 | (code >> 6));
    utf8 += static_cast<char>(0x80 | (code & 0x3F));
  }
  return utf8;
}

// The tiny presets pair with byte_level_tokenizer_json(), whose <|endoftext|> is id 256.
ModelConfig with_byte_level_specials(ModelConfig c) {
  c.bos_token_id = c.eos_token_id = 256;
  return c;
}

}  // namespace

const std::vector<ModelPreset>& model_presets() {
  static const std::vector<ModelPreset> presets = {
      {"tiny-llama", "Llama, 4 layers x 128, GQA 4/2, 257 tokens: trains in minutes on a CPU",
       with_byte_level_specials(llama(257, 128, 4, 4, 2, 344, 512, 10000.0, false))},
      {"tiny-gpt2", "GPT-2, 4 layers x 128, 257 tokens: trains in minutes on a CPU",
       with_byte_level_specials(gpt2(257, 128, 4, 4, 512))},
      {"gpt2-124m", "GPT-2 small's shape (12 x 768, 50257 tokens, 1024 positions)",
       gpt2(50257, 768, 12, 12, 1024)},
      {"tinyllama-1.1b", "TinyLlama-1.1B's shape (22 x 2048, GQA 32/4, 32000 tokens)",
       llama(32000, 2048, 22, 32, 4, 5632, 2048, 10000.0, false)},
      {"llama-3.2-1b", "Llama-3.2-1B's shape (16 x 2048, GQA 32/8, 128256 tokens, tied)",
       llama(128256, 2048, 16, 32, 8, 8192, 2048, 500000.0, true)},
  };
  return presets;
}

const ModelPreset& find_preset(const std::string& name) {
  std::string names;
  for (const auto& preset : model_presets()) {
    if (preset.name == name) return preset;
    names += (names.empty() ? "" : ", ") + preset.name;
  }
  fail("--preset: unknown preset '{}' (known: {})", name, names);
}

std::string byte_level_tokenizer_json() {
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_symbol(b)] = b;
  const nlohmann::ordered_json byte_level = {{"type", "ByteLevel"},
                                             {"add_prefix_space", false},
                                             {"trim_offsets", true},
                                             {"use_regex", true}};
  const nlohmann::ordered_json tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       {{{"id", 256}, {"content", "<|endoftext|>"}, {"single_word", false}, {"lstrip", false},
         {"rstrip", false}, {"normalized", false}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
        {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
        {"vocab", vocab}, {"merges", nlohmann::ordered_json::array()}}}};
  return tokenizer.dump(2) + "\n";
}

void init_model(const ModelConfig& config, const std::string& out_dir, uint64_t seed,
                const std::string& tokenizer_path) {
  std::filesystem::create_directories(out_dir);
  const auto model = CausalLM::random(config, seed, ModelOptions{});
  model->save_pretrained(out_dir, /*merge_lora=*/false);
  write_file_atomic(out_dir + "/tokenizer.json",
                    tokenizer_path.empty() ? byte_level_tokenizer_json() : read_file(tokenizer_path));
}

}  // namespace gradpool
