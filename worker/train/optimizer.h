// AdamW over one flat parameter buffer, the learning-rate schedule, and global-norm clipping —
// with PyTorch's exact semantics (torch.optim.AdamW, clip_grad_norm_), since PEFT users compare
// against them.
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "common/job_spec.h"  // LrSchedule

namespace gradpool {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

class AdamW {
 public:
  AdamW(const at::Tensor& params, const AdamWOptions& options);

  // One update of `params` from `grads` at learning rate `lr`: decoupled weight decay
  // p -= lr·wd·p, then Adam with bias-corrected moments and eps outside the square root.
  void step(at::Tensor& params, const at::Tensor& grads, double lr);

  int64_t steps_taken() const { return step_; }
  at::Tensor& exp_avg() { return exp_avg_; }
  at::Tensor& exp_avg_sq() { return exp_avg_sq_; }
  void set_steps_taken(int64_t step) { step_ = step; }

 private:
  AdamWOptions options_;
  at::Tensor exp_avg_, exp_avg_sq_;
  int64_t step_ = 0;
};

// Learning rate of optimizer step `step` (0-based): linear warmup from lr/warmup to lr over
// `warmup` steps (HF: lr·(s+1)/warmup), then cosine or linear decay to lr·min_ratio at `total`.
struct LearningRateSchedule {
  double lr = 1e-4;
  int64_t warmup = 0;
  int64_t total = 1;
  LrSchedule kind = LrSchedule::kCosine;
  double min_ratio = 0.0;

  double at(int64_t step) const;
};

// Scales `grads` in place so that their global L2 norm is at most `max_norm` (max_norm <= 0: no
// clipping) and returns the norm before clipping as a 0-dim tensor, without a host round trip.
at::Tensor clip_grad_norm(at::Tensor& grads, double max_norm);

}  // namespace gradpool
