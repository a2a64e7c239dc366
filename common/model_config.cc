#include "common/model_config.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "common/error.h"
#include "common/file_util.h"

namespace gradpool {
namespace {

using nlohmann::json;

constexpr double kDefaultRopeTheta = 10000.0;

// An integer that fits int64. Parsed JSON holds non-negative integers as unsigned, but a json built
// in code (to_hf_json, tests) holds them as signed; both are accepted.
std::optional<int64_t> as_int64(const json& value) {
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return value.get<int64_t>();
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return std::nullopt;
}

// Typed access to one JSON object, with errors that name the source and the field. A field that is
// null counts as absent, as it does for transformers (e.g. GPT-2's "n_inner": null).
class Fields {
 public:
  Fields(const json& object, std::string source, std::string prefix = "")
      : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

  bool has(const char* key) const { return get(key) != nullptr; }

  [[noreturn]] void bad(const char* key, const std::string& what) const {
    fail("{}: field '{}{}': {}", source_, prefix_, key, what);
  }

  const json& required(const char* key) const {
    if (!has(key)) fail("{}: missing required field '{}{}'", source_, prefix_, key);
    return *get(key);
  }

  int64_t positive_int(const char* key) const { return to_positive_int(key, required(key)); }
  int64_t positive_int(const char* key, int64_t fallback) const {
    return has(key) ? to_positive_int(key, *get(key)) : fallback;
  }

  double positive_double(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const json& value = *get(key);
    if (!value.is_number() || !(value.get<double>() > 0) || !std::isfinite(value.get<double>()))
      bad(key, fmt::format("must be a positive number, got {}", value.dump()));
    return value.get<double>();
  }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!get(key)->is_boolean())
      bad(key, fmt::format("must be true or false, got {}", get(key)->dump()));
    return get(key)->get<bool>();
  }

  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!get(key)->is_string()) bad(key, fmt::format("must be a string, got {}", get(key)->dump()));
    return get(key)->get<std::string>();
  }

  // A string field whose only value the model code implements is `supported`.
  std::string only(const char* key, const std::string& supported) const {
    std::string value = string(key, supported);
    if (value != supported)
      bad(key, fmt::format("'{}' is not supported (only '{}')", value, supported));
    return value;
  }

  // A boolean switch that, if present, must have the value the model code implements.
  void require_flag(const char* key, bool supported) const {
    if (boolean(key, supported) != supported)
      bad(key, fmt::format("{} is not supported (only {})", !supported, supported));
  }

  // A token id: null/absent, an integer, or a list of them (Llama 3 lists several end tokens; the
  // first is the one that ends a sequence we write).
  std::optional<int64_t> token_id(const char* key) const {
    if (!has(key)) return std::nullopt;
    const json& value = *get(key);
    const json& id = value.is_array() && !value.empty() ? value[0] : value;
    std::optional<int64_t> parsed = as_int64(id);
    if (!parsed || *parsed < 0)
      bad(key,
          fmt::format("must be a non-negative integer or a list of them, got {}", value.dump()));
    return parsed;
  }

  // A nested object, e.g. rope_parameters; its fields are named "rope_parameters.<key>".
  Fields object(const char* key) const {
    if (!required(key).is_object())
      bad(key, fmt::format("must be an object, got {}", get(key)->dump()));
    return Fields(*get(key), source_, prefix_ + key + ".");
  }

 private:
  const json* get(const char* key) const {
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  int64_t to_positive_int(const char* key, const json& value) const {
    std::optional<int64_t> parsed = as_int64(value);
    if (!parsed || *parsed <= 0)
      bad(key, fmt::format("must be a positive integer, got {}", value.dump()));
    return *parsed;
  }

  const json& object_;
  std::string source_;
  std::string prefix_;
};

// Attention splits the hidden size evenly over heads, and query heads evenly over kv heads.
void check_heads(const Fields& f, const ModelConfig& c, const char* hidden_key,
                 const char* heads_key, const char* kv_heads_key) {
  if (c.hidden_size % c.num_heads != 0)
    f.bad(hidden_key,
          fmt::format("{} is not divisible by {} = {}", c.hidden_size, heads_key, c.num_heads));
  if (c.num_heads % c.num_kv_heads != 0)
    f.bad(heads_key,
          fmt::format("{} is not divisible by {} = {}", c.num_heads, kv_heads_key, c.num_kv_heads));
}

void parse_gpt2(const Fields& f, ModelConfig& c) {
  c.arch = ModelArch::kGpt2;
  c.hidden_size = f.positive_int("n_embd");
  c.num_layers = f.positive_int("n_layer");
  c.num_heads = f.positive_int("n_head");
  c.num_kv_heads = c.num_heads;
  c.intermediate_size = f.positive_int("n_inner", 4 * c.hidden_size);
  c.max_positions = f.positive_int("n_positions");
  c.norm_eps = f.positive_double("layer_norm_epsilon", 1e-5);
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", true);
  c.activation = f.only("activation_function", "gelu_new");
  f.require_flag("scale_attn_weights", true);
  f.require_flag("scale_attn_by_inverse_layer_idx", false);
  f.require_flag("add_cross_attention", false);
  check_heads(f, c, "n_embd", "n_head", "n_head");
}

// transformers 5 writes rope_parameters: {rope_theta, rope_type}; 4.x wrote rope_theta and
// rope_scaling at the top level. Only plain RoPE is implemented, in either spelling.
double parse_rope_theta(const Fields& f) {
  if (f.has("rope_scaling")) f.bad("rope_scaling", "RoPE scaling is not supported (only null)");
  if (!f.has("rope_parameters")) return f.positive_double("rope_theta", kDefaultRopeTheta);
  const Fields rope = f.object("rope_parameters");
  rope.only("rope_type", "default");
  const double theta = rope.positive_double("rope_theta", kDefaultRopeTheta);
  if (f.has("rope_theta") && f.positive_double("rope_theta", theta) != theta)
    f.bad("rope_theta", fmt::format("disagrees with rope_parameters.rope_theta = {}", theta));
  return theta;
}

void parse_llama(const Fields& f, ModelConfig& c) {
  c.arch = ModelArch::kLlama;
  c.hidden_size = f.positive_int("hidden_size");
  c.num_layers = f.positive_int("num_hidden_layers");
  c.num_heads = f.positive_int("num_attention_heads");
  c.num_kv_heads = f.positive_int("num_key_value_heads", c.num_heads);
  c.intermediate_size = f.positive_int("intermediate_size");
  c.max_positions = f.positive_int("max_position_embeddings");
  c.norm_eps = f.positive_double("rms_norm_eps", 1e-6);
  c.rope_theta = parse_rope_theta(f);
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  c.activation = f.only("hidden_act", "silu");
  f.require_flag("attention_bias", false);
  f.require_flag("mlp_bias", false);
  check_heads(f, c, "hidden_size", "num_attention_heads", "num_key_value_heads");
  if (f.has("head_dim") && f.positive_int("head_dim") != c.head_dim())
    f.bad("head_dim", fmt::format("{} differs from hidden_size / num_attention_heads = {}; a "
                                  "separate head size is not supported",
                                  f.positive_int("head_dim"), c.head_dim()));
  if (c.model_type == "mistral" && f.has("sliding_window"))
    c.sliding_window = f.positive_int("sliding_window");
}

const char* hf_architecture(const ModelConfig& c) {
  if (c.arch == ModelArch::kGpt2) return "GPT2LMHeadModel";
  return c.model_type == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM";
}

json optional_json(const std::optional<int64_t>& value) {
  return value ? json(*value) : json(nullptr);
}

}  // namespace

ModelConfig parse_model_config(const json& config, const std::string& source) {
  if (!config.is_object()) fail("{}: config is not a JSON object", source);
  const Fields f(config, source);
  ModelConfig c;
  f.required("model_type");
  c.model_type = f.string("model_type", "");
  const bool gpt2 = c.model_type == "gpt2";
  if (!gpt2 && c.model_type != "llama" && c.model_type != "mistral")
    f.bad("model_type",
          fmt::format("'{}' is not supported (gpt2, llama or mistral)", c.model_type));
  c.vocab_size = f.positive_int("vocab_size");
  if (gpt2)
    parse_gpt2(f, c);
  else
    parse_llama(f, c);
  // transformers 5 writes "dtype"; earlier versions wrote "torch_dtype".
  c.torch_dtype = f.string("dtype", f.string("torch_dtype", "float32"));
  c.bos_token_id = f.token_id("bos_token_id");
  c.eos_token_id = f.token_id("eos_token_id");
  return c;
}

ModelConfig load_model_config(const std::string& path) {
  json config;
  try {
    config = json::parse(read_file(path));
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
  return parse_model_config(config, path);
}

json to_hf_json(const ModelConfig& c) {
  json j;
  j["architectures"] = {hf_architecture(c)};
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["dtype"] = c.torch_dtype;
  j["bos_token_id"] = optional_json(c.bos_token_id);
  j["eos_token_id"] = optional_json(c.eos_token_id);
  if (c.arch == ModelArch::kGpt2) {
    j["n_embd"] = c.hidden_size;
    j["n_layer"] = c.num_layers;
    j["n_head"] = c.num_heads;
    j["n_inner"] =
        c.intermediate_size == 4 * c.hidden_size ? json(nullptr) : json(c.intermediate_size);
    j["n_positions"] = c.max_positions;
    j["layer_norm_epsilon"] = c.norm_eps;
    j["activation_function"] = c.activation;
    // The model code has no dropout; transformers' GPT-2 defaults to 0.1 unless told.
    for (const char* key : {"attn_pdrop", "embd_pdrop", "resid_pdrop"}) j[key] = 0.0;
    return j;
  }
  j["hidden_size"] = c.hidden_size;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_heads;
  j["num_key_value_heads"] = c.num_kv_heads;
  j["head_dim"] = c.head_dim();
  j["intermediate_size"] = c.intermediate_size;
  j["max_position_embeddings"] = c.max_positions;
  j["rms_norm_eps"] = c.norm_eps;
  j["rope_parameters"] = {{"rope_theta", c.rope_theta}, {"rope_type", "default"}};
  j["hidden_act"] = c.activation;
  j["attention_dropout"] = 0.0;
  if (c.model_type == "mistral") {
    j["sliding_window"] = optional_json(c.sliding_window);
  } else {
    j["attention_bias"] = false;
    j["mlp_bias"] = false;
  }
  return j;
}

}  // namespace gradpool
