#include "cli/local_service.h"

#include <regex>
#include <thread>

#include <fmt/format.h>

#include "cli/interrupt.h"
#include "common/error.h"
#include "common/file_util.h"

namespace gradpool::cli {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr milliseconds kPollInterval{100};
constexpr milliseconds kWorkerStopGrace{15000};  // the worker's own --stop-grace-s is 10
constexpr milliseconds kCoordinatorStopGrace{10000};
constexpr size_t kLogTailLines = 20;

}  // namespace

fs::path program_dir() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (error) fail("/proc/self/exe: {}", error.message());
  return self.parent_path();
}

fs::path find_program(const fs::path& dir, const std::string& name) {
  const fs::path path = dir / name;
  std::error_code error;
  if (!fs::exists(path, error))
    fail("{}: not found next to gradpool; build it (cmake --build <build-dir> --target {})",
         path.string(), name);
  return path;
}

std::string tail_of_file(const fs::path& path, size_t lines) {
  std::string text;
  try {
    text = read_file(path.string());
  } catch (const Error&) {
    return "";
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  size_t begin = text.size();
  for (size_t seen = 0; begin > 0 && seen < lines; --begin)
    if (text[begin - 1] == '\n' && ++seen == lines) break;
  return text.substr(begin);
}

ServiceBinaries ServiceBinaries::find(const fs::path& dir) {
  return {find_program(dir, "gradpool-coordinator"), find_program(dir, "gradpool-worker"),
          find_program(dir, "gradpool-train")};
}

LocalService::LocalService(const LocalServiceOptions& options) : options_(options) {
  fs::create_directories(options.data_dir / "coordinator");
  // Only we may read the tokens, the database and the logs.
  fs::permissions(options.data_dir, fs::perms::owner_all, fs::perm_options::replace);
  deadline_ = std::chrono::steady_clock::now() + options.startup_timeout;
  try {
    const std::string admin_token = issue_token(options.user, "admin");
    write_file_atomic((options.data_dir / "worker.token").string(),
                      issue_token("local", "worker") + "\n");
    start_coordinator();
    client_ = std::make_unique<Client>(Endpoint{address_, admin_token, ""}, 10.0);
    start_worker();
    wait_for_worker();
  } catch (...) {
    stop();
    throw;
  }
}

LocalService::~LocalService() {
  stop();
}

std::string LocalService::issue_token(const std::string& user, const std::string& role) {
  const std::string output =
      run_program_captured({options_.binaries.coordinator.string(), "token", "add", user, "--role",
                            role, "--data-dir", (options_.data_dir / "coordinator").string()});
  // The token is 32 random bytes in hex; whatever else the command prints is for people.
  static const std::regex kToken("\\b[0-9a-f]{64}\\b");
  std::smatch match;
  if (!std::regex_search(output, match, kToken))
    fail("{} token add printed no token: {}", options_.binaries.coordinator.filename().string(),
         output);
  return match.str();
}

void LocalService::start_coordinator() {
  const fs::path port_file = options_.data_dir / "coordinator.port";
  fs::remove(port_file);
  SpawnOptions spawn;
  spawn.argv = {options_.binaries.coordinator.string(),
                "serve",
                "--data-dir",
                (options_.data_dir / "coordinator").string(),
                "--listen",
                "127.0.0.1:0",
                "--port-file",
                port_file.string(),
                "--metrics-listen",
                "127.0.0.1:0"};
  spawn.output_file = (options_.data_dir / "coordinator.log").string();
  spawn.new_process_group = true;
  coordinator_ = std::make_unique<ChildProcess>(spawn);
  while (true) {
    check_waiting("the coordinator to listen");
    std::error_code error;
    if (fs::exists(port_file, error)) {
      // Written atomically by the coordinator once it listens.
      const int port = std::atoi(read_file(port_file.string()).c_str());
      if (port > 0) {
        address_ = fmt::format("127.0.0.1:{}", port);
        return;
      }
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

void LocalService::start_worker() {
  SpawnOptions spawn;
  // Metrics on any free port: the default one may belong to a worker already on this host.
  spawn.argv = {options_.binaries.worker.string(),
                "--coordinator",
                address_,
                "--token-file",
                (options_.data_dir / "worker.token").string(),
                "--cache-dir",
                (options_.data_dir / "worker").string(),
                "--cpu-slots",
                std::to_string(options_.cpu_slots),
                "--id",
                "local",
                "--train-bin",
                options_.binaries.train.string(),
                "--stop-grace-s",
                "10",
                "--metrics-listen",
                "127.0.0.1:0"};
  spawn.output_file = (options_.data_dir / "worker.log").string();
  spawn.new_process_group = true;
  worker_ = std::make_unique<ChildProcess>(spawn);
}

void LocalService::wait_for_worker() {
  while (true) {
    check_waiting("the worker to register");
    v1::ListWorkersResponse response;
    auto context = make_context(client_->endpoint(), 2000);
    const grpc::Status status =
        client_->workers().List(context.get(), v1::ListWorkersRequest(), &response);
    if (!status.ok() && status.error_code() != grpc::StatusCode::UNAVAILABLE &&
        status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED)
      client_->check(status);
    for (const auto& worker : response.workers())
      if (worker.state() == v1::WORKER_UP) return;
    std::this_thread::sleep_for(kPollInterval);
  }
}

void LocalService::check_waiting(const char* what) {
  if (auto message = failure()) fail("{}", *message);
  if (InterruptGuard::received() != 0) fail("interrupted while waiting for {}", what);
  if (std::chrono::steady_clock::now() > deadline_)
    fail("gave up waiting for {} after {} s; see the logs in {}", what,
         options_.startup_timeout.count(), options_.data_dir.string());
}

std::optional<std::string> LocalService::failure() {
  const std::pair<ChildProcess*, const char*> children[] = {{coordinator_.get(), "coordinator.log"},
                                                            {worker_.get(), "worker.log"}};
  for (const auto& [child, log] : children) {
    if (child == nullptr) continue;
    if (const auto status = child->exit_status()) {
      const fs::path log_path = options_.data_dir / log;
      return fmt::format("{} exited with {}; the end of {}:\n{}", child->name(), *status,
                         log_path.string(), tail_of_file(log_path, kLogTailLines));
    }
  }
  return std::nullopt;
}

void LocalService::stop() {
  if (worker_) worker_->stop(kWorkerStopGrace);
  if (coordinator_) coordinator_->stop(kCoordinatorStopGrace);
}

}  // namespace gradpool::cli
