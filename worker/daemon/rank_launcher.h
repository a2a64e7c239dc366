// How a worker starts one gradpool-train rank: the command line and environment of
// docs/service.md ("Worker"), built up front, then fork + exec with the rank tied to the worker
// (PR_SET_PDEATHSIG: a worker killed outright takes its ranks along) and in a process group of
// its own (so that a stop reaches whatever the rank started).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "proto/gradpool.pb.h"
#include "worker/daemon/slots.h"

namespace gradpool {

// The file descriptor a rank writes its report events to (gradpool-train --report-fd).
constexpr int kReportFd = 3;

// Exit code of a rank whose gradpool-train could not be executed (as a shell's).
constexpr int kExitCannotExecute = 127;

// What every rank of this worker shares.
struct LaunchSettings {
  std::string train_bin;    // gradpool-train
  std::string coordinator;  // HOST:PORT as this worker dials it; the ranks dial the same
  std::string address;      // where this worker's ranks listen (--local-address)
  std::string ca_cert;      // absolute PEM path when the coordinator speaks TLS, else empty
};

struct RankCommand {
  std::vector<std::string> argv;  // argv[0] is the program
  std::vector<std::string> env;   // the whole environment, "NAME=value"
  std::string work_dir;           // the rank's working directory
};

// gradpool-train --config <spec> --rank R --world-size N --backend B --rendezvous gradpool://...
// --local-address A --report-fd 3 [--local-batch K] --device cpu|cuda:0, in `work_dir`. The
// environment is `inherited` without the worker's own credentials (GRADPOOL_TOKEN) plus
// GRADPOOL_RENDEZVOUS_TOKEN, GRADPOOL_CA_CERT with TLS and, on a GPU slot, CUDA_VISIBLE_DEVICES
// naming that GPU alone (by UUID, so that it holds whatever the worker's own visible devices are).
// Error naming the assignment's field when its backend is not gloo or nccl.
RankCommand rank_command(const LaunchSettings& settings, const v1::RankAssignment& assignment,
                         const Slot& slot, const std::string& spec_path,
                         const std::string& work_dir, const std::vector<std::string>& inherited);

// This process's environment, for rank_command's `inherited`.
std::vector<std::string> current_environment();

struct LaunchedRank {
  pid_t pid = -1;  // also its process group
  // Read ends of its stdout, stderr and report pipes: non-blocking, close-on-exec, the caller's
  // to close.
  int stdout_fd = -1, stderr_fd = -1, report_fd = -1;
};

// Starts `command`; Error when pipes or fork fail. A program that cannot be executed exits with
// kExitCannotExecute after an "[error]" line on its stderr. Call it from a thread that outlives
// the rank: the kernel's parent-death signal follows the thread that forked.
LaunchedRank launch_rank(const RankCommand& command);

}  // namespace gradpool
