// AdamW, the learning-rate schedule, gradient clipping, and StepRunner's accumulation invariant:
// however a step's rows are split into micro-batches or ranks, the update is the same.
#include <gtest/gtest.h>

#include <cmath>

#include "common/job_spec.h"
#include "worker/train/init_model.h"
#include "worker/train/lora.h"
#include "worker/train/model.h"
#include "worker/train/optimizer.h"
#include "worker/train/train_step.h"

namespace gradpool {
namespace {

at::Tensor doubles(std::vector<double> values) {
  return at::tensor(values, at::kDouble);
}

void expect_near(const at::Tensor& actual, const std::vector<double>& expected, double tolerance) {
  ASSERT_EQ(actual.numel(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(actual[i].item<double>(), expected[i], tolerance) << "element " << i;
}

// ---- AdamW --------------------------------------------------------------------------------------

// Expected values worked through torch.optim.AdamW's update in float64:
//   p *= 1 - lr·wd;  m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
//   p -= lr/(1-β1^t) · m / (√v/√(1-β2^t) + eps)
// Step 1 shows the two easy-to-get-wrong parts: bias correction makes every |update| = lr·|g|/(|g|
// + eps) ≈ lr (0.1 here; uncorrected it would be 0.1·0.1/√0.001 ≈ 0.32), and the last element's
// g = eps = 1e-8 moves by exactly lr/2 only if eps is outside the square root.
TEST(AdamW, MatchesHandComputedTwoSteps) {
  AdamWOptions options;
  options.weight_decay = 0.1;
  at::Tensor params = doubles({1.0, -2.0, 0.5, 3.0});
  AdamW optimizer(params, options);

  optimizer.step(params, doubles({0.1, -0.2, 0.3, 1e-8}), /*lr=*/0.1);
  expect_near(params, {0.890000009999999, -1.8800000049999999, 0.3950000033333332, 2.92}, 1e-12);
  optimizer.step(params, doubles({-0.05, 0.4, 0.3, 0.0}), /*lr=*/0.05);
  expect_near(params,
              {0.8722331596516949, -1.8889051807480184, 0.3430250049833335, 2.891524672952015},
              1e-12);
  EXPECT_EQ(optimizer.steps_taken(), 2);
}

TEST(AdamW, WeightDecayIsDecoupledFromTheGradient) {
  // A zero gradient leaves Adam's term at zero: only p -= lr·wd·p acts (L2 in the gradient would
  // instead go through Adam's normalisation and move p by ≈ lr).
  AdamWOptions options;
  options.weight_decay = 0.01;
  at::Tensor params = doubles({2.0, -4.0});
  AdamW optimizer(params, options);
  optimizer.step(params, doubles({0.0, 0.0}), 0.5);
  expect_near(params, {2.0 * (1 - 0.5 * 0.01), -4.0 * (1 - 0.5 * 0.01)}, 1e-15);
}

// ---- Learning-rate schedule ---------------------------------------------------------------------

LearningRateSchedule schedule(LrSchedule kind, double min_ratio = 0.0) {
  LearningRateSchedule s;
  s.lr = 2.0;
  s.warmup = 10;
  s.total = 110;  // 100 decay steps after warmup
  s.kind = kind;
  s.min_ratio = min_ratio;
  return s;
}

TEST(LearningRateSchedule, WarmupRampsLinearlyToPeak) {
  for (LrSchedule kind : {LrSchedule::kCosine, LrSchedule::kLinear, LrSchedule::kConstant}) {
    const LearningRateSchedule s = schedule(kind);
    EXPECT_DOUBLE_EQ(s.at(0), 0.2);  // lr·(s+1)/warmup: the first step already learns
    EXPECT_DOUBLE_EQ(s.at(4), 1.0);
    EXPECT_DOUBLE_EQ(s.at(9), 2.0);
    EXPECT_DOUBLE_EQ(s.at(10), 2.0);  // decay starts from the peak
  }
}

TEST(LearningRateSchedule, CosineDecay) {
  const LearningRateSchedule s = schedule(LrSchedule::kCosine);
  EXPECT_DOUBLE_EQ(s.at(35), 2.0 * 0.5 * (1 + std::cos(M_PI * 0.25)));
  EXPECT_NEAR(s.at(60), 1.0, 1e-12);
  EXPECT_NEAR(s.at(110), 0.0, 1e-12);
  EXPECT_NEAR(s.at(500), 0.0, 1e-12);  // past the end: stays at the floor
}

TEST(LearningRateSchedule, LinearDecay) {
  const LearningRateSchedule s = schedule(LrSchedule::kLinear);
  EXPECT_DOUBLE_EQ(s.at(35), 1.5);
  EXPECT_DOUBLE_EQ(s.at(60), 1.0);
  EXPECT_DOUBLE_EQ(s.at(110), 0.0);
}

TEST(LearningRateSchedule, ConstantAfterWarmup) {
  const LearningRateSchedule s = schedule(LrSchedule::kConstant, /*min_ratio=*/0.1);
  for (int64_t step : {10, 60, 110, 1000}) EXPECT_DOUBLE_EQ(s.at(step), 2.0) << step;
}

TEST(LearningRateSchedule, MinRatioIsTheFloor) {
  // lr·(min + (1 - min)·shape): the floor is reached at `total`, the middle is shifted up.
  const LearningRateSchedule cosine = schedule(LrSchedule::kCosine, 0.1);
  EXPECT_NEAR(cosine.at(60), 2.0 * (0.1 + 0.9 * 0.5), 1e-12);
  EXPECT_NEAR(cosine.at(110), 0.2, 1e-12);
  EXPECT_NEAR(cosine.at(1000), 0.2, 1e-12);
  const LearningRateSchedule linear = schedule(LrSchedule::kLinear, 0.1);
  EXPECT_NEAR(linear.at(35), 2.0 * (0.1 + 0.9 * 0.75), 1e-12);
  EXPECT_NEAR(linear.at(110), 0.2, 1e-12);
}

// ---- Gradient clipping --------------------------------------------------------------------------

TEST(ClipGradNorm, ScalesLargeGradientsToMaxNorm) {
  at::Tensor grads = doubles({3.0, 0.0, -4.0});
  const at::Tensor norm = clip_grad_norm(grads, 1.0);
  EXPECT_DOUBLE_EQ(norm.item<double>(), 5.0);  // before clipping
  // torch's coefficient max_norm / (norm + 1e-6).
  expect_near(grads, {3.0 / (5.0 + 1e-6), 0.0, -4.0 / (5.0 + 1e-6)}, 1e-15);
  EXPECT_NEAR(grads.norm().item<double>(), 1.0, 1e-6);
}

TEST(ClipGradNorm, LeavesSmallGradientsUntouched) {
  at::Tensor grads = doubles({0.3, -0.4});
  EXPECT_DOUBLE_EQ(clip_grad_norm(grads, 1.0).item<double>(), 0.5);
  EXPECT_TRUE(at::equal(grads, doubles({0.3, -0.4})));
  // max_norm <= 0 disables clipping but still reports the norm.
  at::Tensor large = doubles({30.0, -40.0});
  EXPECT_DOUBLE_EQ(clip_grad_norm(large, 0.0).item<double>(), 50.0);
  EXPECT_TRUE(at::equal(large, doubles({30.0, -40.0})));
}

// ---- StepRunner ---------------------------------------------------------------------------------

// A small Llama with an adapter whose A and B are both random, so that every LoRA tensor has a
// gradient; built afresh (and identically) for every run.
struct Trainee {
  std::unique_ptr<CausalLM> model;
  std::unique_ptr<LoraAdapter> adapter;
  std::unique_ptr<AdamW> optimizer;

  Trainee() {
    ModelConfig config = find_preset("tiny-llama").config;
    config.hidden_size = 32;
    config.num_layers = 2;
    config.intermediate_size = 64;
    config.max_positions = 32;
    model = CausalLM::random(config, /*seed=*/1, ModelOptions{});
    LoraConfig lora;
    lora.r = 4;
    lora.target_modules = {"q_proj", "v_proj", "down_proj"};
    adapter = std::make_unique<LoraAdapter>(*model, lora, /*seed=*/2);
    at::NoGradGuard no_grad;
    adapter->params().copy_(at::randn({adapter->numel()}, at::detail::createCPUGenerator(3)) * 0.1);
    AdamWOptions options;
    options.weight_decay = 0.01;
    optimizer = std::make_unique<AdamW>(adapter->params(), options);
  }
};

// One step's 4 rows, with very different label counts per row so that a mean of per-micro-batch
// means would differ from the mean over the step's label tokens.
MicroBatch four_rows() {
  const at::Tensor ids = at::randint(257, {4, 12}, at::detail::createCPUGenerator(4), at::kLong);
  at::Tensor labels = ids.clone();
  labels[1].narrow(0, 0, 9).fill_(-100);  // 3 label tokens after the shift
  labels[2].narrow(0, 4, 6).fill_(-100);  // a hole in the middle
  labels[3].fill_(-100);                  // no loss at all (e.g. all prompt)
  labels[3][11] = ids[3][11];             // ... but one token
  return {ids, labels};
}

struct Outcome {
  StepResult result;
  at::Tensor params, grads;
};

Outcome run_step(int64_t rows_per_micro_batch, GradientReducer reducer = nullptr) {
  Trainee t;
  StepRunner runner(*t.model, *t.adapter, *t.optimizer, /*clip_grad_norm=*/1.0, reducer);
  const MicroBatch batch = four_rows();
  std::vector<MicroBatch> micro_batches;
  for (int64_t row = 0; row < 4; row += rows_per_micro_batch)
    micro_batches.push_back({batch.input_ids.narrow(0, row, rows_per_micro_batch),
                             batch.labels.narrow(0, row, rows_per_micro_batch)});
  const StepResult result = runner.run(micro_batches, /*lr=*/1e-2);
  return {result, t.adapter->params().clone(), t.adapter->grads().clone()};
}

void expect_same_update(const Outcome& a, const Outcome& b) {
  EXPECT_NEAR(a.result.loss, b.result.loss, 1e-5 * std::abs(b.result.loss));
  // The norm before clipping exposes a wrong divisor, which clipping and Adam would hide.
  EXPECT_NEAR(a.result.grad_norm, b.result.grad_norm, 1e-5 * b.result.grad_norm);
  EXPECT_TRUE(at::allclose(a.grads, b.grads, 1e-5, 1e-9));
  EXPECT_TRUE(at::allclose(a.params, b.params, 1e-5, 1e-9));
}

// Σ token losses / label tokens of `batch` for a fresh Trainee, in one forward pass.
double token_mean_loss(const MicroBatch& batch) {
  Trainee t;
  at::NoGradGuard no_grad;
  const at::Tensor logits = t.model->forward(batch.input_ids, /*training=*/false);
  return causal_lm_loss_sum(logits, batch.labels).item<double>() / count_label_tokens(batch.labels);
}

TEST(StepRunner, LossIsTheMeanOverTheStepsLabelTokens) {
  const MicroBatch batch = four_rows();
  const double expected = token_mean_loss(batch);
  // The rows are unequal enough that averaging per-row means would be a different number.
  double mean_of_row_means = 0;
  for (int64_t row = 0; row < 4; ++row)
    mean_of_row_means +=
        token_mean_loss({batch.input_ids.narrow(0, row, 1), batch.labels.narrow(0, row, 1)}) / 4;
  ASSERT_GT(std::abs(mean_of_row_means - expected), 1e-3 * expected);

  const Outcome one = run_step(4);
  EXPECT_EQ(one.result.label_tokens, 11 + 3 + 5 + 1);
  EXPECT_NEAR(one.result.loss, expected, 1e-6 * expected);
  EXPECT_FALSE(one.result.skipped);
  EXPECT_FALSE(at::equal(one.params, Trainee().adapter->params())) << "the step must update";
}

TEST(StepRunner, MicroBatchSplitDoesNotChangeTheUpdate) {
  const Outcome whole = run_step(4);
  for (int64_t rows : {2, 1}) {
    SCOPED_TRACE(std::to_string(4 / rows) + " micro-batches of " + std::to_string(rows));
    const Outcome split = run_step(rows);
    EXPECT_EQ(split.result.label_tokens, whole.result.label_tokens);
    expect_same_update(split, whole);
  }
}

TEST(StepRunner, IdenticalRanksGiveTheSingleRankUpdate) {
  // Two ranks with the same data: the all-reduce doubles gradients, loss and token count alike.
  const Outcome alone = run_step(2);
  const Outcome two_ranks = run_step(2, [](at::Tensor& flat) { flat.mul_(2); });
  EXPECT_EQ(two_ranks.result.label_tokens, 2 * alone.result.label_tokens);
  expect_same_update(two_ranks, alone);
}

}  // namespace
}  // namespace gradpool
