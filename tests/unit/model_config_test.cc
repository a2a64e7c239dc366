#include "common/model_config.h"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/file_util.h"
#include "tests/test_util.h"

namespace gradpool {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char kSource[] = "test/config.json";

fs::path golden_config(const std::string& name) {
  return testing::golden_dir() / name / "model" / "config.json";
}

json golden_json(const std::string& name) {
  return json::parse(read_file(golden_config(name).string()));
}

// parse_model_config(config) must throw Error naming kSource and mentioning each of `parts`.
void expect_rejected(const json& config, const std::vector<std::string>& parts) {
  try {
    parse_model_config(config, kSource);
    ADD_FAILURE() << "accepted " << config.dump();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(kSource, 0), 0u) << message;
    for (const std::string& part : parts)
      EXPECT_NE(message.find(part), std::string::npos)
          << "'" << message << "' does not mention '" << part << "'";
  }
}

TEST(ModelConfigTest, ParsesGoldenGpt2) {
  const ModelConfig c = load_model_config(golden_config("gpt2-tiny").string());
  EXPECT_EQ(c.arch, ModelArch::kGpt2);
  EXPECT_EQ(c.model_type, "gpt2");
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim(), 16);
  EXPECT_EQ(c.intermediate_size, 256);  // n_inner: null
  EXPECT_EQ(c.max_positions, 64);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-5);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.activation, "gelu_new");
  EXPECT_EQ(c.torch_dtype, "float32");
  EXPECT_EQ(c.bos_token_id, 50256);
  EXPECT_EQ(c.eos_token_id, 50256);
}

TEST(ModelConfigTest, ParsesGoldenLlama) {
  const ModelConfig c = load_model_config(golden_config("llama-tiny").string());
  EXPECT_EQ(c.arch, ModelArch::kLlama);
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.vocab_size, 600);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim(), 16);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.max_positions, 64);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.activation, "silu");
  EXPECT_EQ(c.torch_dtype, "float32");
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_id, 2);
  EXPECT_FALSE(c.sliding_window);

  const ModelConfig m = load_model_config(golden_config("llama-metaspace-tiny").string());
  EXPECT_EQ(m.hidden_size, 48);
  EXPECT_EQ(m.head_dim(), 12);
  EXPECT_EQ(m.num_kv_heads, 4);
  EXPECT_DOUBLE_EQ(m.norm_eps, 1e-6);
}

// Everything to_hf_json writes is what transformers wrote for the same model, and reading it back
// gives the same config.
TEST(ModelConfigTest, ToHfJsonAgreesWithGoldenAndRoundTrips) {
  for (const fs::path& dir : testing::golden_cases()) {
    const std::string name = dir.filename().string();
    SCOPED_TRACE(name);
    const json golden = golden_json(name);
    const json written = to_hf_json(parse_model_config(golden, name));
    for (const auto& [key, value] : written.items()) {
      ASSERT_TRUE(golden.contains(key)) << key;
      EXPECT_EQ(golden[key], value) << key;
    }
    EXPECT_EQ(to_hf_json(parse_model_config(written, "round trip")), written);
  }
}

TEST(ModelConfigTest, AcceptsTransformers4RopeAndDtypeSpelling) {
  json config = golden_json("llama-tiny");
  config.erase("rope_parameters");
  config.erase("dtype");
  config["rope_theta"] = 500000.0;
  config["rope_scaling"] = nullptr;
  config["torch_dtype"] = "bfloat16";
  const ModelConfig c = parse_model_config(config, kSource);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(to_hf_json(c)["rope_parameters"],
            json({{"rope_theta", 500000.0}, {"rope_type", "default"}}));
  EXPECT_EQ(to_hf_json(c)["dtype"], "bfloat16");

  config["rope_parameters"] = {{"rope_theta", 500000.0}, {"rope_type", "default"}};
  EXPECT_DOUBLE_EQ(parse_model_config(config, kSource).rope_theta, 500000.0);
}

TEST(ModelConfigTest, AppliesDefaults) {
  const json gpt2 = {{"model_type", "gpt2"}, {"vocab_size", 100}, {"n_embd", 32},
                     {"n_layer", 1},         {"n_head", 2},       {"n_positions", 16}};
  const ModelConfig g = parse_model_config(gpt2, kSource);
  EXPECT_EQ(g.intermediate_size, 128);
  EXPECT_DOUBLE_EQ(g.norm_eps, 1e-5);
  EXPECT_EQ(g.activation, "gelu_new");
  EXPECT_TRUE(g.tie_word_embeddings);
  EXPECT_EQ(g.torch_dtype, "float32");
  EXPECT_FALSE(g.bos_token_id);

  const json llama = {
      {"model_type", "llama"},        {"vocab_size", 100},        {"hidden_size", 32},
      {"num_hidden_layers", 1},       {"num_attention_heads", 4}, {"intermediate_size", 64},
      {"max_position_embeddings", 16}};
  const ModelConfig l = parse_model_config(llama, kSource);
  EXPECT_EQ(l.num_kv_heads, 4);
  EXPECT_DOUBLE_EQ(l.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(l.norm_eps, 1e-6);
  EXPECT_FALSE(l.tie_word_embeddings);
  EXPECT_EQ(l.activation, "silu");
  EXPECT_FALSE(l.eos_token_id);
  EXPECT_EQ(to_hf_json(l)["bos_token_id"], nullptr);
}

TEST(ModelConfigTest, ParsesMistral) {
  json config = golden_json("llama-tiny");
  config["model_type"] = "mistral";
  config["architectures"] = {"MistralForCausalLM"};
  config["sliding_window"] = 4096;
  config["eos_token_id"] = {2, 7};  // a list, as in instruction-tuned checkpoints
  config.erase("attention_bias");
  config.erase("mlp_bias");
  const ModelConfig c = parse_model_config(config, kSource);
  EXPECT_EQ(c.arch, ModelArch::kLlama);
  EXPECT_EQ(c.model_type, "mistral");
  EXPECT_EQ(c.sliding_window, 4096);
  EXPECT_EQ(c.eos_token_id, 2);
  const json written = to_hf_json(c);
  EXPECT_EQ(written["architectures"], json({"MistralForCausalLM"}));
  EXPECT_EQ(written["sliding_window"], 4096);
  EXPECT_FALSE(written.contains("attention_bias"));
  EXPECT_EQ(to_hf_json(parse_model_config(written, "round trip")), written);

  config["sliding_window"] = nullptr;
  EXPECT_FALSE(parse_model_config(config, kSource).sliding_window);
}

// A change to a golden config, and what the error must say.
struct BadConfig {
  const char* base;  // golden case name
  std::function<void(json&)> edit;
  std::vector<std::string> message;
};

TEST(ModelConfigTest, RejectsBadConfigs) {
  const std::vector<BadConfig> cases = {
      {"llama-tiny",
       [](json& c) { c.erase("model_type"); },
       {"missing required field 'model_type'"}},
      {"llama-tiny",
       [](json& c) { c["model_type"] = "bert"; },
       {"field 'model_type'", "'bert' is not supported"}},
      {"llama-tiny", [](json& c) { c["model_type"] = 3; }, {"field 'model_type'", "string"}},
      {"llama-tiny",
       [](json& c) { c.erase("hidden_size"); },
       {"missing required field 'hidden_size'"}},
      {"llama-tiny",
       [](json& c) { c["vocab_size"] = nullptr; },
       {"missing required field 'vocab_size'"}},
      {"llama-tiny",
       [](json& c) { c["hidden_size"] = "64"; },
       {"field 'hidden_size'", "positive integer", "\"64\""}},
      {"llama-tiny",
       [](json& c) { c["intermediate_size"] = 172.5; },
       {"field 'intermediate_size'", "positive integer"}},
      {"llama-tiny",
       [](json& c) { c["num_hidden_layers"] = 0; },
       {"field 'num_hidden_layers'", "positive integer"}},
      {"llama-tiny",
       [](json& c) { c["vocab_size"] = -600; },
       {"field 'vocab_size'", "positive integer"}},
      {"llama-tiny",
       [](json& c) { c["num_attention_heads"] = 5; },
       {"field 'hidden_size'", "not divisible by num_attention_heads = 5"}},
      {"llama-tiny",
       [](json& c) { c["num_key_value_heads"] = 3; },
       {"field 'num_attention_heads'", "not divisible by num_key_value_heads = 3"}},
      {"llama-tiny", [](json& c) { c["head_dim"] = 32; }, {"field 'head_dim'", "32"}},
      {"llama-tiny", [](json& c) { c["attention_bias"] = true; }, {"field 'attention_bias'"}},
      {"llama-tiny", [](json& c) { c["mlp_bias"] = true; }, {"field 'mlp_bias'"}},
      {"llama-tiny", [](json& c) { c["mlp_bias"] = "no"; }, {"field 'mlp_bias'", "true or false"}},
      {"llama-tiny",
       [](json& c) {
         c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
       },
       {"field 'rope_scaling'", "not supported"}},
      {"llama-tiny",
       [](json& c) { c["rope_parameters"]["rope_type"] = "yarn"; },
       {"field 'rope_parameters.rope_type'", "'yarn' is not supported"}},
      {"llama-tiny",
       [](json& c) { c["rope_parameters"]["rope_theta"] = -1; },
       {"field 'rope_parameters.rope_theta'", "positive number"}},
      {"llama-tiny",
       [](json& c) { c["rope_parameters"] = 10000.0; },
       {"field 'rope_parameters'", "object"}},
      {"llama-tiny",
       [](json& c) { c["rope_theta"] = 500000.0; },
       {"field 'rope_theta'", "disagrees"}},
      {"llama-tiny",
       [](json& c) { c["hidden_act"] = "gelu"; },
       {"field 'hidden_act'", "'gelu' is not supported"}},
      {"llama-tiny",
       [](json& c) { c["rms_norm_eps"] = "1e-5"; },
       {"field 'rms_norm_eps'", "positive number"}},
      {"llama-tiny",
       [](json& c) { c["tie_word_embeddings"] = 1; },
       {"field 'tie_word_embeddings'", "true or false"}},
      {"llama-tiny", [](json& c) { c["bos_token_id"] = -1; }, {"field 'bos_token_id'"}},
      {"llama-tiny", [](json& c) { c["eos_token_id"] = "2"; }, {"field 'eos_token_id'"}},
      {"llama-tiny", [](json& c) { c["dtype"] = 32; }, {"field 'dtype'", "string"}},
      {"llama-tiny",
       [](json& c) {
         c["model_type"] = "mistral";
         c["sliding_window"] = 0;
       },
       {"field 'sliding_window'", "positive integer"}},
      {"gpt2-tiny", [](json& c) { c.erase("n_head"); }, {"missing required field 'n_head'"}},
      {"gpt2-tiny",
       [](json& c) { c["n_head"] = 3; },
       {"field 'n_embd'", "not divisible by n_head = 3"}},
      {"gpt2-tiny", [](json& c) { c["n_inner"] = 0; }, {"field 'n_inner'", "positive integer"}},
      {"gpt2-tiny",
       [](json& c) { c["activation_function"] = "relu"; },
       {"field 'activation_function'", "'relu' is not supported"}},
      {"gpt2-tiny",
       [](json& c) { c["scale_attn_by_inverse_layer_idx"] = true; },
       {"field 'scale_attn_by_inverse_layer_idx'"}},
      {"gpt2-tiny",
       [](json& c) { c["layer_norm_epsilon"] = 0; },
       {"field 'layer_norm_epsilon'", "positive number"}},
  };
  for (const BadConfig& bad : cases) {
    json config = golden_json(bad.base);
    bad.edit(config);
    SCOPED_TRACE(config.dump());
    expect_rejected(config, bad.message);
  }
  expect_rejected(json::array({1, 2}), {"not a JSON object"});
}

TEST(ModelConfigTest, LoadNamesTheFile) {
  const fs::path dir = testing::temp_dir("model-config");
  const std::string path = (dir / "config.json").string();
  write_file_atomic(path, "{\"model_type\": ");
  try {
    load_model_config(path);
    ADD_FAILURE() << "accepted truncated JSON";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": not valid JSON"), std::string::npos) << e.what();
  }
  write_file_atomic(path, R"({"model_type": "gpt2", "vocab_size": 10})");
  try {
    load_model_config(path);
    ADD_FAILURE() << "accepted a config without n_embd";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": missing required field 'n_embd'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(load_model_config((dir / "absent.json").string()), Error);
}

}  // namespace
}  // namespace gradpool
