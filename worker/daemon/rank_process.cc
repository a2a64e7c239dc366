#include "worker/daemon/rank_process.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

namespace gradpool {
namespace {

constexpr int kPollMs = 100;  // how often a quiet rank's stop deadline and exit are checked
constexpr size_t kMaxMessageBytes = 1024;  // of the exit message in a report

std::string clipped(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  return std::string(text.substr(0, kMaxMessageBytes));
}

// spdlog's "[time] [error] text" (gradpool-train, this worker's exec failure): the text.
std::optional<std::string> error_text(std::string_view line) {
  for (std::string_view tag : {"[error] ", "[critical] "}) {
    const size_t found = line.find(tag);
    if (found != std::string_view::npos) return clipped(line.substr(found + tag.size()));
  }
  return std::nullopt;
}

}  // namespace

RankProcess::RankProcess(v1::RankRef ref, Prepare prepare, EventObserver observer,
                         ExitObserver on_exit, size_t log_capacity)
    : ref_(std::move(ref)),
      prepare_(std::move(prepare)),
      observer_(std::move(observer)),
      on_exit_(std::move(on_exit)),
      log_(log_capacity),
      thread_([this] { run(); }) {}

RankProcess::~RankProcess() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_ = true;
    kill_at_ = Clock::now();
    if (pid_ > 0) ::kill(-pid_, SIGKILL);
  }
  thread_.join();
}

void RankProcess::run() {
  RankCommand command;
  try {
    command = prepare_();
  } catch (const std::exception& e) {
    finish(kExitSetupFailed, clipped(e.what()));
    return;
  }
  LaunchedRank launched;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (stop_requested_) {
      lock.unlock();
      finish(128 + SIGTERM, "stopped before it started");
      return;
    }
    try {
      launched = launch_rank(command);
    } catch (const std::exception& e) {
      lock.unlock();
      finish(kExitSetupFailed, clipped(e.what()));
      return;
    }
    pid_ = launched.pid;
    launched_ = true;
  }
  supervise(launched);
}

void RankProcess::supervise(LaunchedRank rank) {
  struct Stream {
    int fd;
    bool events;  // the report fd; else stdout/stderr
    LineSplitter lines;
  };
  std::array<Stream, 3> streams{
      {{rank.stdout_fd, false, {}}, {rank.stderr_fd, false, {}}, {rank.report_fd, true, {}}}};
  auto on_line = [this](const Stream& stream) {
    return [this, &stream](std::string_view line) {
      if (!stream.events) {
        on_output_line(line);
      } else {
        progress_.apply(line);  // anything else on the report fd is not an event: ignored
        if (observer_) observer_(line);
      }
    };
  };
  // Reads what `stream` holds now; at its end (or on an error) closes it.
  std::array<char, 64 << 10> buffer;
  auto drain = [&](Stream& stream) {
    while (stream.fd >= 0) {
      const ssize_t n = ::read(stream.fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      std::lock_guard<std::mutex> lock(mutex_);
      if (n > 0) {
        stream.lines.feed(std::string_view(buffer.data(), n), on_line(stream));
      } else {
        stream.lines.finish(on_line(stream));
        ::close(stream.fd);
        stream.fd = -1;
      }
    }
  };

  int status = 0;
  for (bool reaped = false; !reaped;) {
    std::array<pollfd, 3> fds{};
    std::array<Stream*, 3> polled{};
    nfds_t count = 0;
    for (Stream& stream : streams)
      if (stream.fd >= 0) polled[count] = &stream, fds[count++] = {stream.fd, POLLIN, 0};
    ::poll(fds.data(), count, kPollMs);
    for (nfds_t i = 0; i < count; ++i)
      if (fds[i].revents) drain(*polled[i]);
    std::lock_guard<std::mutex> lock(mutex_);
    if (kill_at_ && Clock::now() >= *kill_at_ && !killed_after_grace_) {
      ::kill(-rank.pid, SIGKILL);
      killed_after_grace_ = true;
    }
    // Under the lock, so that stop() never signals a process group whose leader was reaped.
    if (::waitpid(rank.pid, &status, WNOHANG) == rank.pid) {
      reaped = true;
      pid_ = -1;
    }
  }
  // What the rank wrote before it ended; a child of its own that still holds a pipe open does
  // not keep the rank from being reported.
  for (Stream& stream : streams) {
    drain(stream);
    if (stream.fd >= 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      stream.lines.finish(on_line(stream));
      ::close(stream.fd);
      stream.fd = -1;
    }
  }

  const bool signaled = WIFSIGNALED(status);
  const int exit_code = signaled ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  std::string message;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (killed_after_grace_ && signaled && WTERMSIG(status) == SIGKILL)
      message = "did not stop within its grace period: killed";
    else if (!last_error_line_.empty())
      message = last_error_line_;
    else if (signaled)
      message =
          fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (exit_code != 0)
      message = last_line_;
  }
  finish(exit_code, message);
}

void RankProcess::on_output_line(std::string_view line) {
  log_.add_line(line);
  if (auto text = error_text(line)) last_error_line_ = std::move(*text);
  if (!line.empty()) last_line_ = clipped(line);
}

void RankProcess::finish(int exit_code, std::string message) {
  if (on_exit_) on_exit_();
  std::lock_guard<std::mutex> lock(mutex_);
  exited_ = true;
  exit_code_ = exit_code;
  message_ = std::move(message);
  exited_cv_.notify_all();
}

v1::RankReport RankProcess::report(LogMark* log_mark) const {
  std::lock_guard<std::mutex> lock(mutex_);
  v1::RankReport report;
  *report.mutable_ref() = ref_;
  report.set_running(launched_ && !exited_);
  report.set_exited(exited_);
  report.set_exit_code(exit_code_);
  report.set_message(message_);
  *report.mutable_progress() = progress_.progress();
  report.set_log(log_.pending(log_mark));
  return report;
}

void RankProcess::log_delivered(const LogMark& mark) {
  std::lock_guard<std::mutex> lock(mutex_);
  log_.consume(mark);
}

void RankProcess::stop(std::chrono::milliseconds grace) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (exited_) return;
  const Clock::time_point deadline = Clock::now() + grace;
  if (!kill_at_ || deadline < *kill_at_) kill_at_ = deadline;
  if (stop_requested_) return;
  stop_requested_ = true;
  if (pid_ > 0) ::kill(-pid_, SIGTERM);
}

bool RankProcess::exited() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return exited_;
}

void RankProcess::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  exited_cv_.wait(lock, [this] { return exited_; });
}

bool RankProcess::wait_until(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  return exited_cv_.wait_until(lock, deadline, [this] { return exited_; });
}

}  // namespace gradpool
