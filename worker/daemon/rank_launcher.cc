#include "worker/daemon/rank_launcher.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

#include "common/error.h"

extern char** environ;

namespace gradpool {
namespace {

bool has_name(const std::string& variable, const char* name) {
  const size_t length = std::strlen(name);
  return variable.compare(0, length, name) == 0 && variable.size() > length &&
         variable[length] == '=';
}

void close_all(std::initializer_list<int> fds) {
  for (int fd : fds)
    if (fd >= 0) ::close(fd);
}

// In the child between fork and exec: async-signal-safe calls only (no allocation, no locks).
[[noreturn]] void exec_child(pid_t parent, const std::array<int, 4>& targets_from, char** argv,
                             char** envp, const char* work_dir, const char* exec_error,
                             size_t exec_error_length) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(kExitCannotExecute);  // the worker died before prctl
  ::setpgid(0, 0);
  // The worker blocks its stop signals for sigwait and ignores SIGPIPE; a rank starts clean.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP}) ::sigaction(sig, &default_action, nullptr);
  // Lift every source above the targets first, so that no dup2 overwrites a source still needed.
  std::array<int, 4> lifted{};
  for (size_t fd = 0; fd < targets_from.size(); ++fd)
    lifted[fd] = ::fcntl(targets_from[fd], F_DUPFD_CLOEXEC, 10);
  for (size_t fd = 0; fd < lifted.size(); ++fd)
    if (lifted[fd] < 0 || ::dup2(lifted[fd], static_cast<int>(fd)) < 0) ::_exit(kExitCannotExecute);
  if (::chdir(work_dir) == 0) ::execve(argv[0], argv, envp);
  ssize_t ignored = ::write(STDERR_FILENO, exec_error, exec_error_length);
  (void)ignored;
  ::_exit(kExitCannotExecute);
}

}  // namespace

RankCommand rank_command(const LaunchSettings& settings, const v1::RankAssignment& assignment,
                         const Slot& slot, const std::string& spec_path,
                         const std::string& work_dir, const std::vector<std::string>& inherited) {
  const v1::RankRef& ref = assignment.ref();
  std::string backend = assignment.backend();
  if (backend.empty()) backend = slot.gpu ? "nccl" : "gloo";
  if (backend != "gloo" && backend != "nccl")
    fail("assignment of job {} rank {}: backend '{}': expected gloo or nccl", ref.job_id(),
         ref.rank(), backend);
  RankCommand command;
  command.work_dir = work_dir;
  command.argv = {
      settings.train_bin,
      "--config",
      spec_path,
      "--rank",
      std::to_string(ref.rank()),
      "--world-size",
      std::to_string(assignment.world_size()),
      "--backend",
      backend,
      "--rendezvous",
      fmt::format("gradpool://{}/{}/{}", settings.coordinator, ref.job_id(), ref.attempt()),
      "--local-address",
      settings.address,
      "--report-fd",
      std::to_string(kReportFd)};
  if (assignment.local_batch() > 0) {
    command.argv.push_back("--local-batch");
    command.argv.push_back(std::to_string(assignment.local_batch()));
  }
  command.argv.push_back("--device");
  // CUDA_VISIBLE_DEVICES leaves the rank one GPU, which is its cuda:0.
  command.argv.push_back(slot.gpu ? "cuda:0" : "cpu");

  for (const std::string& variable : inherited)
    if (!has_name(variable, "GRADPOOL_TOKEN") && !has_name(variable, "GRADPOOL_RENDEZVOUS_TOKEN") &&
        !has_name(variable, "GRADPOOL_CA_CERT") && !has_name(variable, "CUDA_VISIBLE_DEVICES"))
      command.env.push_back(variable);
  command.env.push_back("GRADPOOL_RENDEZVOUS_TOKEN=" + assignment.rendezvous_token());
  if (!settings.ca_cert.empty()) command.env.push_back("GRADPOOL_CA_CERT=" + settings.ca_cert);
  if (slot.gpu)
    command.env.push_back("CUDA_VISIBLE_DEVICES=" +
                          (slot.uuid.empty() ? std::to_string(slot.index) : slot.uuid));
  return command;
}

std::vector<std::string> current_environment() {
  std::vector<std::string> variables;
  for (char** variable = environ; *variable; ++variable) variables.emplace_back(*variable);
  return variables;
}

LaunchedRank launch_rank(const RankCommand& command) {
  // Everything the child needs is made here: it may not allocate after fork.
  std::vector<std::string> argv_storage = command.argv, env_storage = command.env;
  std::vector<char*> argv, envp;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  for (std::string& variable : env_storage) envp.push_back(variable.data());
  envp.push_back(nullptr);
  const std::string exec_error = fmt::format("[error] gradpool-worker: cannot execute {} in {}\n",
                                             command.argv.at(0), command.work_dir);

  int out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1};
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::pipe2(report, O_CLOEXEC) != 0) {
    const int error = errno;
    close_all({null_fd, out[0], out[1], err[0], err[1], report[0], report[1]});
    fail("starting {}: no pipes: {}", command.argv.at(0), std::strerror(error));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0)
    exec_child(parent, {null_fd, out[1], err[1], report[1]}, argv.data(), envp.data(),
               command.work_dir.c_str(), exec_error.data(), exec_error.size());
  const int fork_error = errno;
  close_all({null_fd, out[1], err[1], report[1]});
  if (pid < 0) {
    close_all({out[0], err[0], report[0]});
    fail("starting {}: fork failed: {}", command.argv.at(0), std::strerror(fork_error));
  }
  ::setpgid(pid, pid);  // also here, so that a stop right away already reaches the group
  for (int fd : {out[0], err[0], report[0]})
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return {pid, out[0], err[0], report[0]};
}

}  // namespace gradpool
