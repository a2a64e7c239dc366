#include "cli/child_process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/error.h"

extern char** environ;

namespace gradpool::cli {
namespace {

std::string variable_name(const std::string& entry) {
  return entry.substr(0, entry.find('='));
}

// Our environment with `extra` added or replacing same-named entries.
std::vector<std::string> child_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> entries;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    bool replaced = false;
    for (const auto& override : extra)
      replaced = replaced || variable_name(override) == variable_name(text);
    if (!replaced) entries.push_back(text);
  }
  entries.insert(entries.end(), extra.begin(), extra.end());
  return entries;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& text : strings) out.push_back(text.data());
  out.push_back(nullptr);
  return out;
}

// Only async-signal-safe calls from here to exec: the parent may have other threads (gRPC).
[[noreturn]] void exec_child(const SpawnOptions& options, pid_t parent, int output_fd,
                             int stdout_fd, int error_pipe, char* const* argv, char* const* envp) {
  if (options.new_process_group) ::setpgid(0, 0);
  if (options.parent_death_signal != 0) {
    ::prctl(PR_SET_PDEATHSIG, options.parent_death_signal);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int signal = 1; signal < NSIG; ++signal) ::sigaction(signal, &default_action, nullptr);
  if (output_fd >= 0) {
    ::dup2(output_fd, STDOUT_FILENO);
    ::dup2(output_fd, STDERR_FILENO);
  }
  if (stdout_fd >= 0) ::dup2(stdout_fd, STDOUT_FILENO);
  ::execve(argv[0], argv, envp);
  const int error = errno;
  [[maybe_unused]] ssize_t written = ::write(error_pipe, &error, sizeof error);
  ::_exit(127);
}

int decode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

}  // namespace

ChildProcess::ChildProcess(const SpawnOptions& options) {
  if (options.argv.empty()) fail("cannot start a process without a program");
  name_ = std::filesystem::path(options.argv.front()).filename().string();
  std::vector<std::string> argv_strings = options.argv;
  std::vector<std::string> env_strings = child_environment(options.extra_env);
  const std::vector<char*> argv = pointers(argv_strings);
  const std::vector<char*> envp = pointers(env_strings);

  int output_fd = -1;
  if (!options.output_file.empty()) {
    output_fd =
        ::open(options.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (output_fd < 0)
      fail("{}: cannot open for writing: {}", options.output_file, std::strerror(errno));
  }
  int capture[2] = {-1, -1};
  int error_pipe[2] = {-1, -1};
  if ((options.capture_stdout && ::pipe2(capture, O_CLOEXEC) != 0) ||
      ::pipe2(error_pipe, O_CLOEXEC) != 0)
    fail("{}: cannot create a pipe: {}", name_, std::strerror(errno));

  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0)
    exec_child(options, parent, output_fd, capture[1], error_pipe[1], argv.data(), envp.data());
  const int fork_error = errno;
  for (int fd : {output_fd, capture[1], error_pipe[1]})
    if (fd >= 0) ::close(fd);
  stdout_pipe_ = capture[0];
  if (pid_ < 0) {
    ::close(error_pipe[0]);
    fail("{}: cannot fork: {}", name_, std::strerror(fork_error));
  }
  // exec closes the error pipe (O_CLOEXEC): EOF means the program started, an errno that it did
  // not.
  int exec_error = 0;
  ssize_t got;
  do got = ::read(error_pipe[0], &exec_error, sizeof exec_error);
  while (got < 0 && errno == EINTR);
  ::close(error_pipe[0]);
  if (got == sizeof exec_error) {
    wait();
    if (stdout_pipe_ >= 0) ::close(stdout_pipe_);
    fail("{}: cannot run: {}", options.argv.front(), std::strerror(exec_error));
  }
}

ChildProcess::~ChildProcess() {
  if (!exit_status()) {
    ::kill(pid_, SIGKILL);
    wait();
  }
  if (stdout_pipe_ >= 0) ::close(stdout_pipe_);
}

std::optional<int> ChildProcess::reap(bool block) {
  if (status_) return status_;
  int wait_status = 0;
  pid_t done;
  do done = ::waitpid(pid_, &wait_status, block ? 0 : WNOHANG);
  while (done < 0 && errno == EINTR);
  if (done == pid_) status_ = decode(wait_status);
  if (done < 0) status_ = 255;  // not our child any more: nothing left to wait for
  return status_;
}

bool ChildProcess::signal(int signal) {
  std::lock_guard<std::mutex> lock(mutex_);
  return !reap(false) && ::kill(pid_, signal) == 0;
}

std::optional<int> ChildProcess::exit_status() {
  std::lock_guard<std::mutex> lock(mutex_);
  return reap(false);
}

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(5);
  while (true) {
    if (auto status = exit_status()) return status;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

int ChildProcess::wait() {
  std::lock_guard<std::mutex> lock(mutex_);
  return *reap(true);
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  if (auto status = wait_for(grace)) return *status;
  signal(SIGKILL);
  return wait();
}

std::string ChildProcess::read_stdout() {
  std::string out;
  char buffer[4096];
  while (stdout_pipe_ >= 0) {
    const ssize_t got = ::read(stdout_pipe_, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    out.append(buffer, static_cast<size_t>(got));
  }
  return out;
}

void run_program(const std::vector<std::string>& argv) {
  SpawnOptions options;
  options.argv = argv;
  ChildProcess child(options);
  if (const int status = child.wait(); status != 0) fail("{} exited with {}", child.name(), status);
}

std::string run_program_captured(const std::vector<std::string>& argv) {
  SpawnOptions options;
  options.argv = argv;
  options.capture_stdout = true;
  ChildProcess child(options);
  const std::string output = child.read_stdout();
  if (const int status = child.wait(); status != 0)
    fail("{} exited with {}: {}", child.name(), status, output);
  return output;
}

}  // namespace gradpool::cli
