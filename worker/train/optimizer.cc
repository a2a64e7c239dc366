#include "worker/train/optimizer.h"

#include <cmath>

namespace gradpool {

AdamW::AdamW(const at::Tensor& params, const AdamWOptions& options)
    : options_(options),
      exp_avg_(at::zeros_like(params)),
      exp_avg_sq_(at::zeros_like(params)) {}

void AdamW::step(at::Tensor& params, const at::Tensor& grads, double lr) {
  at::NoGradGuard no_grad;
  ++step_;
  const double bias1 = 1.0 - std::pow(options_.beta1, static_cast<double>(step_));
  const double bias2 = 1.0 - std::pow(options_.beta2, static_cast<double>(step_));
  params.mul_(1.0 - lr * options_.weight_decay);
  exp_avg_.lerp_(grads, 1.0 - options_.beta1);
  exp_avg_sq_.mul_(options_.beta2).addcmul_(grads, grads, 1.0 - options_.beta2);
  const at::Tensor denom = (exp_avg_sq_.sqrt() / std::sqrt(bias2)).add_(options_.eps);
  params.addcdiv_(exp_avg_, denom, -lr / bias1);
}

double LearningRateSchedule::at(int64_t step) const {
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (kind == LrSchedule::kConstant) return lr;
  const int64_t decay_steps = std::max<int64_t>(1, total - warmup);
  const double progress =
      std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(decay_steps));
  const double shape =
      kind == LrSchedule::kCosine ? 0.5 * (1.0 + std::cos(M_PI * progress)) : 1.0 - progress;
  return lr * (min_ratio + (1.0 - min_ratio) * shape);
}

at::Tensor clip_grad_norm(at::Tensor& grads, double max_norm) {
  at::NoGradGuard no_grad;
  const at::Tensor norm = grads.norm(2);
  if (max_norm > 0) {
    // torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6), clamped to 1.
    grads.mul_(at::clamp_max(max_norm / (norm + 1e-6), 1.0));
  }
  return norm;
}

}  // namespace gradpool
