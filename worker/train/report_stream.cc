#include "worker/train/report_stream.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
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

}  // namespace

ReportStream::ReportStream(int fd) : fd_(fd) {
  if (fd_ < 0) return;
  if (::fcntl(fd_, F_GETFL) < 0) fail("--report-fd {}: not an open file descriptor", fd_);
  // A worker that goes away must not take the rank with it: failed writes say EPIPE instead.
  std::signal(SIGPIPE, SIG_IGN);
}

void ReportStream::start(int rank, int world_size, int64_t step, int64_t total_steps) {
  write_line({{"event", "start"},
              {"rank", rank},
              {"world_size", world_size},
              {"step", step},
              {"total_steps", total_steps}});
}

void ReportStream::step(const StepReport& r) {
  write_line({{"event", "step"},
              {"step", r.step},
              {"total_steps", r.total_steps},
              {"loss", r.loss},
              {"lr", r.lr},
              {"grad_norm", r.grad_norm},
              {"tokens", r.tokens},
              {"local_tokens", r.local_tokens},
              {"samples", r.samples},
              {"step_s", r.step_s},
              {"allreduce_s", r.allreduce_s},
              {"skipped", r.skipped}});
}

void ReportStream::checkpoint(int64_t step, double seconds) {
  write_line({{"event", "checkpoint"}, {"step", step}, {"seconds", seconds}});
}

void ReportStream::done(int64_t step) {
  write_line({{"event", "done"}, {"step", step}});
}

void ReportStream::write_line(const nlohmann::json& event) {
  if (fd_ < 0) return;
  // A non-finite loss is not JSON; dump() writes null for it, which the reader treats as absent.
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
