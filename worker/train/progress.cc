#include "worker/train/progress.h"

#include <cmath>

#include <fmt/format.h>

namespace gradpool {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

ProgressReporter::ProgressReporter(int64_t first_step, int64_t total_steps, int64_t log_every,
                                   std::FILE* out, bool interactive)
    : first_step_(first_step),
      total_steps_(total_steps),
      log_every_(std::max<int64_t>(1, log_every)),
      out_(out),
      interactive_(interactive),
      start_(std::chrono::steady_clock::now()) {}

double ProgressReporter::tokens_per_second() const {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return elapsed > 0 ? tokens_ / elapsed : 0.0;
}

std::string ProgressReporter::line(const StepProgress& p) const {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double per_step = steps_done_ > 0 ? elapsed / steps_done_ : 0.0;
  const double eta = per_step * static_cast<double>(total_steps_ - p.step);
  return fmt::format("step {}/{} loss {:.4f} lr {:.3e} grad_norm {:.3f} tok/s {:.0f} eta {}{}",
                     p.step, total_steps_, p.loss, p.lr, p.grad_norm, tokens_per_second(),
                     format_duration(eta), p.skipped ? " (fp16 overflow: step skipped)" : "");
}

void ProgressReporter::report(const StepProgress& progress) {
  tokens_ += progress.tokens;
  ++steps_done_;
  if (interactive_) {
    constexpr int kWidth = 24;
    const double done = total_steps_ > 0 ? static_cast<double>(progress.step) / total_steps_ : 1;
    const int filled = static_cast<int>(done * kWidth);
    fmt::print(out_, "\r\x1b[2K[{}{}] {:3.0f}% {}", std::string(filled, '#'),
               std::string(kWidth - filled, '.'), 100 * done, line(progress));
    drew_ = true;
  } else if (progress.step % log_every_ == 0 || progress.step == total_steps_ ||
             progress.step == first_step_ + 1) {
    fmt::print(out_, "{}\n", line(progress));
  }
  std::fflush(out_);
}

void ProgressReporter::finish() {
  if (drew_) fmt::print(out_, "\n");
  std::fflush(out_);
}

}  // namespace gradpool
