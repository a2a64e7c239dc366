// Golden parity: every case under $GRADPOOL_GOLDEN_DIR (computed with HF transformers + PEFT in
// fp32) is reproduced from its files alone — base and LoRA logits, the loss, every LoRA gradient,
// three accumulated + clipped AdamW steps, and the exported adapter.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/safetensors.h"
#include "tests/test_util.h"
#include "worker/train/lora.h"
#include "worker/train/model.h"
#include "worker/train/torch_util.h"
#include "worker/train/train_step.h"

namespace gradpool {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

at::Tensor tensor_2d(const json& rows) {
  const int64_t B = rows.size(), T = rows[0].size();
  std::vector<int64_t> flat;
  for (const auto& row : rows)
    for (const auto& v : row) flat.push_back(v.get<int64_t>());
  return at::tensor(flat, at::kLong).view({B, T});
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

class GoldenCase : public ::testing::TestWithParam<fs::path> {
 protected:
  void SetUp() override {
    dir_ = GetParam();
    spec_ = json::parse(read_file((dir_ / "case.json").string()));
    model_ = CausalLM::load((dir_ / "model").string(), ModelOptions{});
  }
  // The adapter as adapter_init/ describes it (config and weights).
  std::unique_ptr<LoraAdapter> initial_adapter() {
    const LoraConfig config = LoraAdapter::read_peft_config((dir_ / "adapter_init").string());
    auto adapter = std::make_unique<LoraAdapter>(*model_, config, /*seed=*/0);
    adapter->load_peft_weights((dir_ / "adapter_init" / "adapter_model.safetensors").string());
    return adapter;
  }
  at::Tensor golden(const std::string& name) {
    return load_tensor(SafetensorsFile::open((dir_ / "tensors.safetensors").string()), name,
                       at::kFloat, at::kCPU);
  }

  fs::path dir_;
  json spec_;
  std::unique_ptr<CausalLM> model_;
};

TEST_P(GoldenCase, BaseLogits) {
  at::NoGradGuard no_grad;
  const at::Tensor logits = model_->forward(golden("input_ids").to(at::kLong), false);
  EXPECT_LT(max_abs_diff(logits, golden("base_logits")), 1e-4);
}

TEST_P(GoldenCase, LoraLogitsLossAndGradients) {
  auto adapter = initial_adapter();
  const at::Tensor ids = golden("input_ids").to(at::kLong);
  const at::Tensor labels = golden("labels").to(at::kLong);
  const at::Tensor logits = model_->forward(ids, false);
  EXPECT_LT(max_abs_diff(logits, golden("lora_logits")), 1e-4);

  const at::Tensor loss = causal_lm_loss_sum(logits, labels) / count_label_tokens(labels);
  const double expected = spec_["loss_with_adapter_init"].get<double>();
  EXPECT_NEAR(loss.item<double>(), expected, 1e-5 * std::abs(expected));

  adapter->zero_grad();
  loss.backward();
  // Our gradients sit in the flat buffer in the same layout as the parameters.
  at::Tensor params_backup = adapter->params().clone();
  adapter->params().copy_(adapter->grads());
  int checked = 0;
  const SafetensorsFile tensors = SafetensorsFile::open((dir_ / "tensors.safetensors").string());
  for (const auto& [name, grad] : adapter->peft_state()) {
    std::string key = "grad." + name;
    key.replace(key.rfind(".weight"), 7, ".default.weight");  // PEFT's parameter name
    ASSERT_TRUE(tensors.contains(key)) << key;
    EXPECT_LT(max_abs_diff(grad, load_tensor(tensors, key, at::kFloat, at::kCPU)), 1e-5) << key;
    ++checked;
  }
  adapter->params().copy_(params_backup);
  int golden_grads = 0;
  for (const auto& [name, info] : tensors.tensors()) golden_grads += name.rfind("grad.", 0) == 0;
  EXPECT_EQ(checked, golden_grads);
}

TEST_P(GoldenCase, ThreeAccumulatedStepsAndExport) {
  auto adapter = initial_adapter();
  const json& opt = spec_["optimizer"];
  AdamWOptions options;
  options.beta1 = opt["betas"][0];
  options.beta2 = opt["betas"][1];
  options.eps = opt["eps"];
  options.weight_decay = opt["weight_decay"];
  AdamW optimizer(adapter->params(), options);
  StepRunner runner(*model_, *adapter, optimizer, opt["clip_grad_norm"].get<double>());
  const int64_t micro = opt["micro_batches_per_step"], rows = opt["rows_per_micro_batch"];

  for (const json& step : spec_["steps"]) {
    const at::Tensor ids = tensor_2d(step["input_ids"]), labels = tensor_2d(step["labels"]);
    std::vector<MicroBatch> batches;
    for (int64_t m = 0; m < micro; ++m)
      batches.push_back({ids.narrow(0, m * rows, rows), labels.narrow(0, m * rows, rows)});
    const StepResult result = runner.run(batches, step["lr"].get<double>());
    EXPECT_EQ(result.label_tokens, step["label_tokens"].get<int64_t>());
    EXPECT_NEAR(result.loss, step["loss"].get<double>(), 1e-5);
    EXPECT_NEAR(result.grad_norm, step["grad_norm_before_clip"].get<double>(), 1e-5);
  }

  const fs::path final_dir = dir_ / "adapter_final";
  const SafetensorsFile expected =
      SafetensorsFile::open((final_dir / "adapter_model.safetensors").string());
  for (const auto& [name, tensor] : adapter->peft_state())
    EXPECT_LT(max_abs_diff(tensor, load_tensor(expected, name, at::kFloat, at::kCPU)), 1e-5)
        << name;

  // Export: same keys, shapes, metadata and config as PEFT's own adapter_final.
  const fs::path out = testing::temp_dir("golden-export-" + dir_.filename().string());
  adapter->save_peft(out.string(), "");
  const SafetensorsFile exported =
      SafetensorsFile::open((out / "adapter_model.safetensors").string());
  ASSERT_EQ(exported.tensors().size(), expected.tensors().size());
  for (const auto& [name, info] : expected.tensors()) {
    ASSERT_TRUE(exported.contains(name)) << name;
    EXPECT_EQ(exported.info(name).shape, info.shape) << name;
    EXPECT_EQ(exported.info(name).dtype, info.dtype) << name;
  }
  EXPECT_EQ(exported.metadata(), expected.metadata());
  const json ours = json::parse(read_file((out / "adapter_config.json").string()));
  const json theirs = json::parse(read_file((final_dir / "adapter_config.json").string()));
  EXPECT_EQ(ours, theirs);
}

TEST(Golden, CasesArePresent) {
  EXPECT_FALSE(testing::golden_cases().empty())
      << "no golden cases (directories with case.json) under " << testing::golden_dir()
      << "; set GRADPOOL_GOLDEN_DIR";
}

std::string case_name(const ::testing::TestParamInfo<fs::path>& info) {
  std::string name = info.param.filename().string();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenCase, ::testing::ValuesIn(testing::golden_cases()),
                         case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GoldenCase);  // CasesArePresent reports it

}  // namespace
}  // namespace gradpool
