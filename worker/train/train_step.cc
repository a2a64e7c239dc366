#include "worker/train/train_step.h"

namespace gradpool {

int64_t count_label_tokens(const at::Tensor& labels) {
  return labels.narrow(1, 1, labels.size(1) - 1).ne(-100).sum().item<int64_t>();
}

StepRunner::StepRunner(CausalLM& model, LoraAdapter& adapter, AdamW& optimizer,
                       double clip_grad_norm, GradientReducer reducer)
    : model_(model),
      adapter_(adapter),
      optimizer_(optimizer),
      clip_grad_norm_(clip_grad_norm),
      reducer_(std::move(reducer)) {
  scaler_.enabled = model.options().dtype == at::kHalf;
}

PhaseClock::time_point StepRunner::phase_boundary() const {
  const at::Device device = model_.options().device;
  if (recorder_ && device.is_cuda()) torch::cuda::synchronize(device.index());
  return PhaseClock::now();
}

StepResult StepRunner::run(const std::vector<MicroBatch>& micro_batches, double lr,
                           bool stop_vote) {
  const at::Device device = model_.options().device;
  const double scale = scaler_.enabled ? scaler_.scale : 1.0;
  adapter_.zero_grad();

  // Accumulate locally: no communication and no host round trip per micro-batch.
  int64_t local_tokens = 0;
  at::Tensor loss_sum = at::zeros({}, adapter_.grads().options());
  for (size_t micro = 0; micro < micro_batches.size(); ++micro) {
    const MicroBatch& batch = micro_batches[micro];
    const auto forward_start = phase_boundary();
    local_tokens += count_label_tokens(batch.labels);  // CPU tensors: no device sync
    const at::Tensor ids = batch.input_ids.to(device, /*non_blocking=*/true);
    const at::Tensor labels = batch.labels.to(device, /*non_blocking=*/true);
    const at::Tensor loss = causal_lm_loss_sum(model_.forward(ids, /*training=*/true), labels);
    const auto backward_start = phase_boundary();
    (scaler_.enabled ? loss * scale : loss).backward();
    loss_sum += loss.detach();
    if (recorder_) {
      const nlohmann::json args = {{"micro_batch", micro}};
      recorder_(StepPhase::kForward, forward_start, backward_start, args);
      recorder_(StepPhase::kBackward, backward_start, phase_boundary(), args);
    }
  }

  // One reduction of [grads…, token count, loss sum, stop votes], then a single division by the
  // global token count.
  at::Tensor& grads = adapter_.grads();
  const int64_t n = grads.numel();
  if (!reduce_buffer_.defined()) reduce_buffer_ = at::empty({n + 3}, grads.options());
  reduce_buffer_.narrow(0, 0, n).copy_(grads);
  reduce_buffer_.narrow(0, n, 1).fill_(static_cast<double>(local_tokens));
  reduce_buffer_.narrow(0, n + 1, 1).copy_(loss_sum.view({1}));
  reduce_buffer_.narrow(0, n + 2, 1).fill_(stop_vote ? 1.0 : 0.0);
  if (reducer_) reducer_(reduce_buffer_);
  const auto optimizer_start = phase_boundary();
  const at::Tensor totals = reduce_buffer_.narrow(0, n, 3).to(at::kCPU);
  StepResult result;
  result.label_tokens = static_cast<int64_t>(totals[0].item<double>());
  result.stop_requested = totals[2].item<double>() > 0;
  const double divisor = std::max<int64_t>(1, result.label_tokens);
  result.loss = totals[1].item<double>() / divisor;
  grads.copy_(reduce_buffer_.narrow(0, 0, n)).div_(divisor * scale);

  const at::Tensor norm = clip_grad_norm(grads, clip_grad_norm_);
  result.grad_norm = norm.item<double>();
  result.skipped = scaler_.enabled && !std::isfinite(result.grad_norm);
  if (result.skipped) {
    scaler_.scale /= 2;
    scaler_.clean_steps = 0;
    ++scaler_.skipped_steps;
  } else {
    if (scaler_.enabled && ++scaler_.clean_steps >= scaler_.growth_interval) {
      scaler_.scale *= 2;
      scaler_.clean_steps = 0;
    }
    optimizer_.step(adapter_.params(), grads, lr);
  }
  if (recorder_) recorder_(StepPhase::kOptimizer, optimizer_start, phase_boundary(), nullptr);
  return result;
}

}  // namespace gradpool
