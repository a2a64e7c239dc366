// Llama (Touvron et al., 2023) and its family (Mistral, ...): RMSNorm pre-norm blocks, rotary
// position embeddings (RoPE, base `rope_theta`), grouped-query attention (n_kv_heads ≤ n_heads),
// SwiGLU MLP, and an output head that is either its own matrix or tied to the embedding.
#include <cmath>

#include "worker/train/architectures.h"

namespace gradpool {
namespace {

// x / rms(x) · w, computed in fp32 and returned in x's dtype (as HF LlamaRMSNorm does).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor x32 = x.to(at::kFloat);
  const at::Tensor normed = x32 * at::rsqrt(x32.pow(2).mean(-1, true) + eps);
  return weight * normed.to(x.scalar_type());
}

// HF's rotate_half convention: the two halves of each head are the (x, y) of each rotation.
at::Tensor rotate_half(const at::Tensor& x) {
  const auto halves = x.chunk(2, -1);
  return at::cat({-halves[1], halves[0]}, -1);
}

class Llama final : public CausalLM {
 public:
  Llama(ModelConfig config, ModelOptions options)
      : CausalLM(std::move(config), std::move(options)) {}

  at::Tensor forward(const at::Tensor& input_ids, bool training) override {
    const auto& c = config();
    const int64_t B = input_ids.size(0), T = input_ids.size(1);
    const int64_t H = c.num_heads, KV = c.num_kv_heads, D = c.head_dim();
    const at::Tensor cos = cos_.narrow(0, 0, T).to(options().dtype);
    const at::Tensor sin = sin_.narrow(0, 0, T).to(options().dtype);
    auto rope = [&](const at::Tensor& x) { return x * cos + rotate_half(x) * sin; };
    auto heads = [&](const at::Tensor& x, int64_t n) {
      return x.view({B, T, n, D}).transpose(1, 2);
    };
    // Grouped-query attention: each k/v head serves H/KV consecutive query heads.
    auto expand_kv = [&](const at::Tensor& x) {
      return KV == H ? x : x.repeat_interleave(H / KV, /*dim=*/1);
    };

    at::Tensor h = at::embedding(embed_tokens_, input_ids);
    for (const Block& block : blocks_) {
      const at::Tensor x = rms_norm(h, block.input_norm, c.norm_eps);
      const at::Tensor q = rope(heads(block.q_proj.forward(x, training), H));
      const at::Tensor k = rope(heads(block.k_proj.forward(x, training), KV));
      const at::Tensor v = heads(block.v_proj.forward(x, training), KV);
      const at::Tensor y = causal_attention(q, expand_kv(k), expand_kv(v));
      h = h + block.o_proj.forward(y.transpose(1, 2).reshape({B, T, H * D}), training);

      const at::Tensor m = rms_norm(h, block.post_attention_norm, c.norm_eps);
      const at::Tensor gate = at::silu(block.gate_proj.forward(m, training));
      h = h + block.down_proj.forward(gate * block.up_proj.forward(m, training), training);
    }
    h = rms_norm(h, norm_, c.norm_eps);
    return at::matmul(h, lm_head_.t());
  }

 protected:
  void build(WeightSource& source) override {
    const auto& c = config();
    const int64_t C = c.hidden_size, F = c.intermediate_size, D = c.head_dim();
    const int64_t q_out = c.num_heads * D, kv_out = c.num_kv_heads * D;
    embed_tokens_ = weight(source, "model.embed_tokens.weight", {c.vocab_size, C}, Init::kNormal);
    blocks_.resize(c.num_layers);  // sized once: linears are registered by address
    for (int64_t i = 0; i < c.num_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i);
      Block& b = blocks_[i];
      b.input_norm = weight(source, p + ".input_layernorm.weight", {C}, Init::kOnes);
      b.q_proj = linear(source, p + ".self_attn.q_proj", C, q_out, false, false);
      b.k_proj = linear(source, p + ".self_attn.k_proj", C, kv_out, false, false);
      b.v_proj = linear(source, p + ".self_attn.v_proj", C, kv_out, false, false);
      b.o_proj = linear(source, p + ".self_attn.o_proj", q_out, C, false, false);
      b.post_attention_norm =
          weight(source, p + ".post_attention_layernorm.weight", {C}, Init::kOnes);
      b.gate_proj = linear(source, p + ".mlp.gate_proj", C, F, false, false);
      b.up_proj = linear(source, p + ".mlp.up_proj", C, F, false, false);
      b.down_proj = linear(source, p + ".mlp.down_proj", F, C, false, false);
      for (Linear* l : {&b.q_proj, &b.k_proj, &b.v_proj, &b.o_proj, &b.gate_proj, &b.up_proj,
                        &b.down_proj})
        register_linear(l);
    }
    norm_ = weight(source, "model.norm.weight", {C}, Init::kOnes);
    lm_head_ = c.tie_word_embeddings
                   ? embed_tokens_
                   : weight(source, "lm_head.weight", {c.vocab_size, C}, Init::kNormal);

    // RoPE tables for every position, in fp32: angle(t, j) = t / theta^(2j / D).
    const auto f32 = at::TensorOptions().dtype(at::kFloat).device(options().device);
    const at::Tensor inv_freq = 1.0 / at::pow(c.rope_theta, at::arange(0, D, 2, f32) / D);
    const at::Tensor angles = at::outer(at::arange(c.max_positions, f32), inv_freq);
    const at::Tensor both = at::cat({angles, angles}, -1);
    cos_ = both.cos();
    sin_ = both.sin();
  }

 private:
  struct Block {
    at::Tensor input_norm, post_attention_norm;
    Linear q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
  };
  at::Tensor embed_tokens_, norm_, lm_head_, cos_, sin_;
  std::vector<Block> blocks_;
};

}  // namespace

std::unique_ptr<CausalLM> make_llama(const ModelConfig& config, const ModelOptions& options) {
  return std::make_unique<Llama>(config, options);
}

}  // namespace gradpool
