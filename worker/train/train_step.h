// StepRunner: one optimizer step of LoRA training with gradient accumulation.
//
//   for each micro-batch: forward → sum of token cross-entropies → backward (grads accumulate
//   locally, no communication); then: [grads…, label-token count] reduced across ranks (if any) →
//   grads / global token count → clip → AdamW.
//
// The step's loss is Σ token losses / Σ label tokens over the whole step — not a mean of
// per-micro-batch means — so the update is the same however the step is split into micro-batches
// or ranks. fp16 runs scale the loss dynamically and skip steps whose gradients overflow.
#pragma once

#include <functional>
#include <vector>

#include <torch/torch.h>

#include "worker/train/lora.h"
#include "worker/train/model.h"
#include "worker/train/optimizer.h"
#include "worker/train/step_phase.h"

namespace gradpool {

struct MicroBatch {
  at::Tensor input_ids;  // [b, T] int64, on the CPU (moved to the device by the runner)
  at::Tensor labels;     // [b, T] int64, -100 where no loss
};

struct StepResult {
  double loss = 0;              // Σ token losses / Σ label tokens (global)
  double grad_norm = 0;         // before clipping
  int64_t label_tokens = 0;     // global
  bool skipped = false;         // fp16 overflow: no update was made
  bool stop_requested = false;  // some rank voted to stop after this step
};

// Sums a flat fp32 tensor across ranks in place (the data-parallel all-reduce); identity alone.
using GradientReducer = std::function<void(at::Tensor& flat)>;

// Dynamic loss scaling for fp16 (as torch.cuda.amp.GradScaler): ×2 after `growth_interval` clean
// steps, ×½ and skip the step on inf/nan.
struct LossScaler {
  bool enabled = false;
  double scale = 65536.0;
  int64_t growth_interval = 2000;
  int64_t clean_steps = 0;
  int64_t skipped_steps = 0;
};

class StepRunner {
 public:
  StepRunner(CausalLM& model, LoraAdapter& adapter, AdamW& optimizer, double clip_grad_norm,
             GradientReducer reducer = nullptr);

  // `stop_vote` rides along in the reduction, so every rank learns at the same step that one of
  // them was asked to stop (SIGTERM) and they all stop together.
  StepResult run(const std::vector<MicroBatch>& micro_batches, double lr, bool stop_vote = false);

  LossScaler& loss_scaler() { return scaler_; }

  // Tells `recorder` each micro-batch's forward and backward and the step's optimizer phase (the
  // gradient division, clipping and AdamW). On a GPU it then waits for the device at each phase
  // boundary, so that a phase's time is its GPU work rather than its kernel launches.
  void set_phase_recorder(PhaseRecorder recorder) { recorder_ = std::move(recorder); }

 private:
  // Now; when phases are being recorded, once the device has finished the work queued so far.
  PhaseClock::time_point phase_boundary() const;

  CausalLM& model_;
  LoraAdapter& adapter_;
  AdamW& optimizer_;
  double clip_grad_norm_;
  GradientReducer reducer_;
  LossScaler scaler_;
  PhaseRecorder recorder_;
  at::Tensor reduce_buffer_;  // [grads…, label tokens, loss sum, stop votes]
};

// Label tokens of a batch after HF's shift: labels[:, 1:] != -100.
int64_t count_label_tokens(const at::Tensor& labels);

}  // namespace gradpool
