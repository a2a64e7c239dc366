// GPT-2 (Radford et al., 2019): learned positions, pre-LayerNorm blocks, fused qkv projection,
// tanh-GELU MLP, output head tied to the token embedding. HF stores its projections as Conv1D
// ([in, out]); they are held as ordinary [out, in] Linears here.
#include "worker/train/architectures.h"

namespace gradpool {
namespace {

class Gpt2 final : public CausalLM {
 public:
  Gpt2(ModelConfig config, ModelOptions options)
      : CausalLM(std::move(config), std::move(options)) {}

  at::Tensor forward(const at::Tensor& input_ids, bool training) override {
    const auto& c = config();
    const int64_t B = input_ids.size(0), T = input_ids.size(1), C = c.hidden_size;
    const int64_t H = c.num_heads, D = c.head_dim();
    const at::Tensor positions = at::arange(T, input_ids.options());

    at::Tensor h = at::embedding(wte_, input_ids) + at::embedding(wpe_, positions);
    for (const Block& block : blocks_) {
      // Attention: one projection yields q, k and v side by side.
      const at::Tensor a = at::layer_norm(h, {C}, block.ln_1_w, block.ln_1_b, c.norm_eps);
      const auto qkv = block.c_attn.forward(a, training).split(C, -1);
      auto heads = [&](const at::Tensor& x) { return x.view({B, T, H, D}).transpose(1, 2); };
      const at::Tensor y = causal_attention(heads(qkv[0]), heads(qkv[1]), heads(qkv[2]));
      h = h + block.attn_proj.forward(y.transpose(1, 2).reshape({B, T, C}), training);

      // MLP: expand 4x, tanh-approximated GELU ("gelu_new"), project back.
      const at::Tensor m = at::layer_norm(h, {C}, block.ln_2_w, block.ln_2_b, c.norm_eps);
      const at::Tensor up = at::gelu(block.c_fc.forward(m, training), "tanh");
      h = h + block.mlp_proj.forward(up, training);
    }
    h = at::layer_norm(h, {C}, ln_f_w_, ln_f_b_, c.norm_eps);
    return at::matmul(h, wte_.t());  // tied output head
  }

 protected:
  void build(WeightSource& source) override {
    const auto& c = config();
    const int64_t C = c.hidden_size, F = c.intermediate_size;
    wte_ = weight(source, "transformer.wte.weight", {c.vocab_size, C}, Init::kNormal);
    wpe_ = weight(source, "transformer.wpe.weight", {c.max_positions, C}, Init::kNormal);
    blocks_.resize(c.num_layers);  // sized once: linears are registered by address
    for (int64_t i = 0; i < c.num_layers; ++i) {
      const std::string p = "transformer.h." + std::to_string(i);
      Block& b = blocks_[i];
      b.ln_1_w = weight(source, p + ".ln_1.weight", {C}, Init::kOnes);
      b.ln_1_b = weight(source, p + ".ln_1.bias", {C}, Init::kZeros);
      b.c_attn = linear(source, p + ".attn.c_attn", C, 3 * C, true, /*conv1d=*/true);
      b.attn_proj = linear(source, p + ".attn.c_proj", C, C, true, true);
      b.ln_2_w = weight(source, p + ".ln_2.weight", {C}, Init::kOnes);
      b.ln_2_b = weight(source, p + ".ln_2.bias", {C}, Init::kZeros);
      b.c_fc = linear(source, p + ".mlp.c_fc", C, F, true, true);
      b.mlp_proj = linear(source, p + ".mlp.c_proj", F, C, true, true);
      for (Linear* l : {&b.c_attn, &b.attn_proj, &b.c_fc, &b.mlp_proj}) register_linear(l);
    }
    ln_f_w_ = weight(source, "transformer.ln_f.weight", {C}, Init::kOnes);
    ln_f_b_ = weight(source, "transformer.ln_f.bias", {C}, Init::kZeros);
  }

 private:
  struct Block {
    at::Tensor ln_1_w, ln_1_b, ln_2_w, ln_2_b;
    Linear c_attn, attn_proj, c_fc, mlp_proj;
  };
  at::Tensor wte_, wpe_, ln_f_w_, ln_f_b_;
  std::vector<Block> blocks_;
};

}  // namespace

std::unique_ptr<CausalLM> make_gpt2(const ModelConfig& config, const ModelOptions& options) {
  return std::make_unique<Gpt2>(config, options);
}

}  // namespace gradpool
