#include "worker/train/report_stream.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <string>

#include <spdlog/spdlog.h>

#include "common/error.h"

namespace gradpool {
namespace {

// How long one event may wait for a full pipe to drain before the stream gives up: a worker that
// reads nothing for this long is not going to, and training must not wait for it.
constexpr int kStuckReaderMs = 5000;

// A non-finite number is not JSON: null, which readers take as "not reported".
nlohmann::json finite_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

}  // namespace

ReportStream::ReportStream(int fd) : fd_(fd) {
  if (fd_ < 0) return;
  if (::fcntl(fd_, F_GETFL) < 0) fail("--report-fd {}: not an open file descriptor", fd_);
  // A worker that goes away must not take the rank with it: failed writes say EPIPE instead.
  std::signal(SIGPIPE, SIG_IGN);
}

void ReportStream::start(int rank, int world_size, int64_t step, int64_t total_steps) {
  emit({{"event", "start"},
        {"rank", rank},
        {"world_size", world_size},
        {"step", step},
        {"total_steps", total_steps}});
}

void ReportStream::step(const StepReport& r) {
  nlohmann::json event = {{"event", "step"},
                          {"step", r.step},
                          {"total_steps", r.total_steps},
                          {"loss", finite_or_null(r.loss)},
                          {"lr", r.lr},
                          {"grad_norm", finite_or_null(r.grad_norm)},
                          {"tokens", r.tokens},
                          {"local_tokens", r.local_tokens},
                          {"samples", r.samples},
                          {"local_samples", r.local_samples},
                          {"step_s", r.step_s},
                          {"allreduce_s", r.allreduce_s},
                          {"skipped", r.skipped}};
  if (r.mfu) event["mfu"] = *r.mfu;
  if (r.gpu_memory_allocated_bytes)
    event["gpu_memory_allocated_bytes"] = *r.gpu_memory_allocated_bytes;
  if (r.gpu_memory_reserved_bytes)
    event["gpu_memory_reserved_bytes"] = *r.gpu_memory_reserved_bytes;
  if (r.gpu_memory_peak_bytes) event["gpu_memory_peak_bytes"] = *r.gpu_memory_peak_bytes;
  emit(event);
}

void ReportStream::checkpoint(int64_t step, double seconds) {
  emit({{"event", "checkpoint"}, {"step", step}, {"seconds", seconds}});
}

void ReportStream::done(int64_t step) {
  emit({{"event", "done"}, {"step", step}});
}

void ReportStream::emit(const nlohmann::json& event) {
  if (sink_) sink_(event);
  write_line(event);
}

void ReportStream::write_line(const nlohmann::json& event) {
  if (fd_ < 0) return;
  const std::string line = event.dump() + "\n";
  size_t written = 0;
  while (written < line.size()) {
    // Wait for room rather than making the fd non-blocking: that flag would be shared with every
    // process holding the same open file (a terminal, the shell's pipe).
    pollfd writable{fd_, POLLOUT, 0};
    const int ready = ::poll(&writable, 1, kStuckReaderMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      spdlog::warn("--report-fd {}: the reader took no events for {} s; reporting stops", fd_,
                   kStuckReaderMs / 1000);
      fd_ = -1;
      return;
    }
    const ssize_t n = ready < 0 ? -1 : ::write(fd_, line.data() + written, line.size() - written);
    if (n > 0) {
      written += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      spdlog::warn("--report-fd {}: {}; reporting stops, training goes on", fd_,
                   std::strerror(n < 0 ? errno : EIO));
      fd_ = -1;
      return;
    }
  }
}

}  // namespace gradpool
