// ChildProcess: a real program started by a test, stdout and stderr in <log>.out and <log>.err.
// One still running when it goes out of scope (a failed assertion) is killed — continued first
// if stopped — and reaped, so no test leaves processes behind.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/file_util.h"

extern char** environ;

namespace gradpool::testing {

class ChildProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // args[0] is the program (searched in PATH when it has no '/'); `env` entries ("NAME=value")
  // are added to this process's environment, replacing variables of the same name.
  ChildProcess(std::vector<std::string> args, const std::filesystem::path& log,
               const std::vector<std::string>& env = {})
      : log_(log) {
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<std::string> environment = env;
    for (char** e = environ; *e; ++e) {
      const std::string var = *e;
      const std::string name = var.substr(0, var.find('=') + 1);
      bool replaced = false;
      for (const auto& extra : env) replaced |= extra.rfind(name, 0) == 0;
      if (!replaced) environment.push_back(var);
    }
    std::vector<char*> envp;
    for (auto& var : environment) envp.push_back(var.data());
    envp.push_back(nullptr);
    const std::string out = log.string() + ".out", err = log.string() + ".err";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      ADD_FAILURE() << "cannot start " << argv[0] << ": " << std::strerror(rc);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (running()) signal(SIGKILL), signal(SIGCONT);
    wait();
  }

  // Never kill(-1, ...) or kill(0, ...): those signal every process we own.
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  bool running() {
    if (pid_ > 0 && ::waitpid(pid_, &raw_, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }
  // The exit status, or -N if signal N killed it.
  int wait() {
    if (pid_ > 0 && ::waitpid(pid_, &raw_, 0) == pid_) pid_ = -1;
    return status();
  }
  // The exit status if the process ends before `deadline`.
  std::optional<int> wait_until(Clock::time_point deadline) {
    while (running() && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (running()) return std::nullopt;
    return status();
  }
  pid_t pid() const { return pid_; }

  std::string stdout_text() const { return read_or_empty(log_.string() + ".out"); }
  std::string stderr_text() const { return read_or_empty(log_.string() + ".err"); }
  // stderr then stdout (mpirun forwards its ranks' output to both).
  std::string output() const { return stderr_text() + stdout_text(); }

 private:
  static std::string read_or_empty(const std::string& path) {
    return std::filesystem::exists(path) ? read_file(path) : std::string();
  }
  int status() const { return WIFEXITED(raw_) ? WEXITSTATUS(raw_) : -WTERMSIG(raw_); }

  pid_t pid_ = -1;
  int raw_ = 0;
  std::filesystem::path log_;
};

}  // namespace gradpool::testing
