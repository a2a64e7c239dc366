// ChildProcess: one program started and supervised by `gradpool run` (the coordinator, the worker
// daemon, gradpool-train's demo helpers). The object owns the process: it can signal it, wait for
// it with a timeout, and stop it (SIGTERM, then SIGKILL after a grace period); destroying a running
// one kills and reaps it, so no child outlives a failing command as a zombie or an orphan.
// Safe to use from several threads (gradpool run watches its children while it follows logs).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace gradpool::cli {

struct SpawnOptions {
  std::vector<std::string> argv;       // argv[0] is the program's path (not searched in $PATH)
  std::vector<std::string> extra_env;  // "NAME=value": added to our environment, or replacing
  std::string output_file;             // stdout and stderr appended here; "" inherits ours
  bool capture_stdout = false;         // stdout into a pipe instead, read by read_stdout()
  bool new_process_group = false;      // keep a terminal's Ctrl-C for us to handle in order
  int parent_death_signal = SIGTERM;   // sent to the child when we die first (0: none)
};

class ChildProcess {
 public:
  // Starts the program; Error naming it when it cannot be started (missing, not executable).
  explicit ChildProcess(const SpawnOptions& options);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }  // argv[0]'s file name

  // Sends `signal`; false when the process has already exited.
  bool signal(int signal);

  // The exit status (the exit code, or 128 + the signal that killed it) once the process has
  // exited; nullopt while it runs, or still after `timeout`.
  std::optional<int> exit_status();
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  int wait();

  // SIGTERM, then SIGKILL when it has not exited after `grace`; its exit status.
  int stop(std::chrono::milliseconds grace);

  // Everything the child writes to stdout until it closes it (capture_stdout only).
  std::string read_stdout();

 private:
  std::optional<int> reap(bool block);  // caller holds mutex_

  std::string name_;
  pid_t pid_ = -1;
  int stdout_pipe_ = -1;
  std::mutex mutex_;
  std::optional<int> status_;
};

// Runs a program to completion with our stdout and stderr; Error "<program> exited with N" unless
// it exits 0.
void run_program(const std::vector<std::string>& argv);

// Runs a program to completion and returns its stdout; Error "<program> exited with N: <output>"
// unless it exits 0.
std::string run_program_captured(const std::vector<std::string>& argv);

}  // namespace gradpool::cli
