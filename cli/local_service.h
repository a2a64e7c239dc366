// LocalService: the real service on this machine for `gradpool run`: one gradpool-coordinator and
// one gradpool-worker, started as child processes on a fresh data directory and stopped again.
//
//   <data-dir>/coordinator/     the coordinator's --data-dir (SQLite, logs, datasets)
//   <data-dir>/worker/          the worker's --cache-dir
//   <data-dir>/coordinator.log  both children's stdout and stderr
//   <data-dir>/worker.log
//   <data-dir>/worker.token     the worker's token (0600)
//
// The constructor returns once the worker is registered and up, so a job submitted next can be
// placed; it fails with the last lines of the log of whichever child did not come up.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cli/child_process.h"
#include "cli/client.h"

namespace gradpool::cli {

// The directory of the running gradpool binary (/proc/self/exe): the other binaries sit beside it.
std::filesystem::path program_dir();

// `dir`/`name`; Error saying how to build it when it is missing.
std::filesystem::path find_program(const std::filesystem::path& dir, const std::string& name);

// The last `lines` lines of a file ("" when it cannot be read), for error messages.
std::string tail_of_file(const std::filesystem::path& path, size_t lines);

// The programs LocalService runs; find() fails (saying how to build it) for one that is missing.
struct ServiceBinaries {
  std::filesystem::path coordinator;
  std::filesystem::path worker;
  std::filesystem::path train;
  static ServiceBinaries find(const std::filesystem::path& dir);
};

struct LocalServiceOptions {
  ServiceBinaries binaries;
  std::filesystem::path data_dir;  // created if missing
  int cpu_slots = 1;               // the worker's --cpu-slots (used when it finds no GPU)
  std::string user = "local";      // the name the CLI's admin token is issued to
  std::chrono::seconds startup_timeout{60};
};

class LocalService {
 public:
  // Starts both and waits for the worker to register. Error when a child exits or does not come
  // up in time, or when a signal arrives (InterruptGuard) while waiting.
  explicit LocalService(const LocalServiceOptions& options);
  ~LocalService();  // stops whatever is still running
  LocalService(const LocalService&) = delete;
  LocalService& operator=(const LocalService&) = delete;

  Client& client() { return *client_; }  // an admin of this coordinator
  const std::string& coordinator_address() const { return address_; }

  // When a child has exited on its own: which, its status and the end of its log.
  std::optional<std::string> failure();

  // Stops the worker (which stops its ranks), then the coordinator: SIGTERM, SIGKILL after a grace
  // period.
  void stop();

 private:
  std::string issue_token(const std::string& user, const std::string& role);
  void start_coordinator();
  void start_worker();
  void wait_for_worker();
  void check_waiting(const char* what);  // Error on a dead child, a signal or the deadline

  LocalServiceOptions options_;
  std::chrono::steady_clock::time_point deadline_;
  std::string address_;
  std::unique_ptr<ChildProcess> coordinator_;
  std::unique_ptr<ChildProcess> worker_;
  std::unique_ptr<Client> client_;
};

}  // namespace gradpool::cli
