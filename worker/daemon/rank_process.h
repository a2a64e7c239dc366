// RankProcess: one rank of one job attempt on this worker, from preparation to exit. Its own
// thread prepares it (fetches data, writes the spec: whatever `prepare` does), launches it, reads
// its stdout/stderr into a bounded log and its report events into a Progress, stops it when told
// (SIGTERM to its process group, SIGKILL after the grace period) and reaps it. The heartbeat loop
// reads its state through report(); any thread may call any method.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "proto/gradpool.pb.h"
#include "worker/daemon/log_buffer.h"
#include "worker/daemon/progress_tracker.h"
#include "worker/daemon/rank_launcher.h"

namespace gradpool {

// Exit code reported for a rank that failed before gradpool-train ran (bad assignment, dataset
// fetch or checksum failure, no fork); `message` says why.
constexpr int kExitSetupFailed = 1;

class RankProcess {
 public:
  using Clock = std::chrono::steady_clock;
  // Runs on the rank's thread; an exception fails the rank with its message.
  using Prepare = std::function<RankCommand()>;
  // Sees every line of the rank's report fd as it arrives (on the rank's thread, with its lock
  // held: keep it short), e.g. for metrics; the Progress in report() sums them up already.
  using EventObserver = std::function<void(std::string_view event_line)>;
  // Told once, on the rank's thread, when the rank has exited (or failed to start) and its output
  // has been read, just before exited() turns true.
  using ExitObserver = std::function<void()>;

  RankProcess(v1::RankRef ref, Prepare prepare, EventObserver observer = nullptr,
              ExitObserver on_exit = nullptr, size_t log_capacity = 1 << 20);
  // Kills a rank still running (SIGKILL to its group) and waits for the thread.
  ~RankProcess();
  RankProcess(const RankProcess&) = delete;
  RankProcess& operator=(const RankProcess&) = delete;

  const v1::RankRef& ref() const { return ref_; }

  // Where a report's log ends, to hand back to log_delivered() once the coordinator has it.
  using LogMark = LogBuffer::Mark;

  // The rank as the next heartbeat describes it: running or exited (exit code, 128 + signal when
  // killed, message: the last error line of its output, or why it never started), its progress,
  // and the output not yet delivered.
  v1::RankReport report(LogMark* log_mark) const;
  void log_delivered(const LogMark& mark);

  // SIGTERM to the rank's process group now, SIGKILL once `grace` has passed. A rank still
  // being prepared never starts (exit code 143). Repeated calls never extend the grace period.
  void stop(std::chrono::milliseconds grace);

  bool exited() const;
  // Blocks until the rank has exited (or failed to start) and its output has been read.
  void wait();
  // The same, up to `deadline`; false if it is still running then.
  bool wait_until(Clock::time_point deadline);

 private:
  void run();
  void supervise(LaunchedRank rank);
  void on_output_line(std::string_view line);
  void finish(int exit_code, std::string message);

  const v1::RankRef ref_;
  Prepare prepare_;
  EventObserver observer_;
  ExitObserver on_exit_;

  mutable std::mutex mutex_;
  std::condition_variable exited_cv_;
  LogBuffer log_;
  ProgressTracker progress_;
  std::string last_error_line_;
  std::string last_line_;
  pid_t pid_ = -1;  // launched and not yet reaped
  bool launched_ = false;
  bool stop_requested_ = false;
  std::optional<Clock::time_point> kill_at_;
  bool killed_after_grace_ = false;
  bool exited_ = false;
  int exit_code_ = 0;
  std::string message_;

  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace gradpool
