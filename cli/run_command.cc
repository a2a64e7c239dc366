// gradpool run job.yaml|demo: one job on this machine through the real service. It starts a
// coordinator and a worker (LocalService), submits the job, follows its log, prints a summary and
// stops them again. Ctrl-C cancels the job first. Exit status: 0 iff the job SUCCEEDED, 130 when
// interrupted, 1 otherwise.
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/demo.h"
#include "cli/format.h"
#include "cli/interrupt.h"
#include "cli/local_service.h"
#include "cli/log_stream.h"
#include "cli/submit_request.h"
#include "common/error.h"
#include "common/file_util.h"

namespace gradpool::cli {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int kInterruptedStatus = 130;
constexpr milliseconds kCancelDeadline{10000};
// After cancelling, how long the log may take to reach the job's end before we stop reading.
constexpr auto kLogDrainAfterCancel = std::chrono::seconds(10);

struct RunFlags {
  std::string spec;  // a job spec file, or "demo"
  std::vector<std::string> overrides;
  int cpu_slots = 0;  // 0: the job's resources.gpus
  bool keep = false;
  std::string data_dir;
};

void note(const std::string& line) {
  std::fprintf(stderr, "gradpool: %s\n", line.c_str());
}

// ./runs/.gradpool/<local time>, unique in that directory.
fs::path default_data_dir(const fs::path& cwd) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  const fs::path base = cwd / "runs" / ".gradpool" / stamp;
  fs::path dir = base;
  for (int n = 2; fs::exists(dir); ++n) dir = base.string() + "-" + std::to_string(n);
  return dir;
}

// The login name when it can name a token's user, else "local".
std::string local_user() {
  const char* user = std::getenv("USER");
  static const std::regex kName("[A-Za-z0-9._-]{1,64}");
  return user != nullptr && std::regex_match(user, kName) ? user : "local";
}

// Copies the job's log to stdout until the job is final. Meanwhile a second thread watches for
// Ctrl-C (cancel the job, then let the log run to its end) and for a child that dies (stop
// reading). Returns why reading stopped early: "" when the log simply ended.
std::string follow_job(LocalService& service, uint64_t job_id) {
  Client& client = service.client();
  auto logs_context = client.stream_context();
  std::mutex mutex;
  std::condition_variable finished_cv;
  bool finished = false;
  std::string stopped_because;
  std::thread watcher([&] {
    std::optional<std::chrono::steady_clock::time_point> cancelled_at;
    std::unique_lock<std::mutex> lock(mutex);
    while (!finished_cv.wait_for(lock, milliseconds(100), [&] { return finished; })) {
      if (InterruptGuard::received() != 0 && !cancelled_at) {
        note(fmt::format("interrupted: cancelling job {}", job_id));
        v1::JobRef ref;
        ref.set_id(job_id);
        v1::Job job;
        const grpc::Status status = client.jobs().Cancel(
            make_context(client.endpoint(), kCancelDeadline.count()).get(), ref, &job);
        if (!status.ok()) note("cancel: " + client.describe_failure(status));
        cancelled_at = std::chrono::steady_clock::now();
      }
      if (cancelled_at && std::chrono::steady_clock::now() - *cancelled_at > kLogDrainAfterCancel) {
        logs_context->TryCancel();
        return;
      }
      if (auto failure = service.failure()) {
        stopped_because = *failure;
        logs_context->TryCancel();
        return;
      }
    }
  });
  const grpc::Status status = copy_job_log(client, *logs_context, job_id, true, stdout);
  {
    std::lock_guard<std::mutex> lock(mutex);
    finished = true;
  }
  finished_cv.notify_one();
  watcher.join();
  if (stopped_because.empty() && !status.ok() && InterruptGuard::received() == 0)
    client.check(status);
  return stopped_because;
}

void print_summary(const v1::Job& job) {
  const v1::Progress& progress = job.progress();
  std::string line = fmt::format("job {} ({}) {} after {}", job.id(), job.name(),
                                 state_name(job.state()), job_time_text(job, now_ms()));
  if (progress.step() > 0)
    line += fmt::format(": {} steps, final loss {}, {} tokens/s", step_text(progress),
                        loss_text(progress), rate_text(progress.tokens_per_second()));
  std::printf("%s\n", line.c_str());
  if (!job.message().empty()) std::printf("  %s\n", job.message().c_str());
  if (job.state() == v1::JOB_SUCCEEDED) std::printf("  output: %s\n", job.output().c_str());
  std::fflush(stdout);  // before the notes on stderr that follow
}

// Starts the service, runs the job through it, prints the summary and stops the service again.
v1::Job run_through(const LocalServiceOptions& options, const v1::SubmitRequest& request) {
  LocalService service(options);
  note(fmt::format("coordinator at {}, one worker with {} cpu slot(s), state in {}",
                   service.coordinator_address(), options.cpu_slots, options.data_dir.string()));

  Client& client = service.client();
  v1::SubmitResponse submitted;
  client.check(client.jobs().Submit(client.context().get(), request, &submitted));
  if (submitted.jobs_size() != 1)
    fail("the coordinator answered with {} jobs", submitted.jobs_size());
  const uint64_t job_id = submitted.jobs(0).id();
  note(fmt::format("submitted job {} ({})", job_id, submitted.jobs(0).name()));

  const std::string stopped_because = follow_job(service, job_id);
  if (!stopped_because.empty()) fail("{}", stopped_because);
  v1::JobRef ref;
  ref.set_id(job_id);
  v1::Job job;
  client.check(client.jobs().Get(client.context().get(), ref, &job));
  print_summary(job);
  service.stop();
  return job;
}

int run_local(const RunFlags& flags) {
  InterruptGuard interrupts;
  const fs::path cwd = fs::current_path();
  const bool demo = flags.spec == "demo";
  SubmitArgs args;
  args.spec_text = demo ? kDemoSpec : read_file(flags.spec);
  args.source_name = demo ? kDemoSpecSource : flags.spec;
  args.overrides = flags.overrides;
  args.absolute_default_output = true;
  const PreparedSubmit prepared = prepare_submit(args, cwd);
  if (!dataset_is_path(prepared.spec.dataset, cwd))
    fail(
        "dataset '{}': gradpool run needs a .jsonl file (no ./{} here, and its coordinator has "
        "no registered datasets)",
        prepared.spec.dataset, prepared.spec.dataset);
  LocalServiceOptions options;
  options.binaries = ServiceBinaries::find(program_dir());
  if (demo) prepare_demo(options.binaries.train, prepared.spec);
  options.data_dir = flags.data_dir.empty() ? default_data_dir(cwd) : fs::absolute(flags.data_dir);
  options.cpu_slots =
      flags.cpu_slots > 0 ? flags.cpu_slots : static_cast<int>(prepared.spec.resources.gpus);
  options.user = local_user();

  const std::string kept = fmt::format("kept {} (coordinator.log, worker.log, coordinator/logs/)",
                                       options.data_dir.string());
  v1::Job job;
  try {
    job = run_through(options, prepared.request);
  } catch (...) {
    note(kept);
    throw;
  }
  const bool succeeded = job.state() == v1::JOB_SUCCEEDED;
  // Only a directory we made up is ours to remove.
  if (succeeded && !flags.keep && flags.data_dir.empty()) {
    fs::remove_all(options.data_dir);
    std::error_code not_empty;  // ./runs/.gradpool goes too once no other run uses it
    fs::remove(options.data_dir.parent_path(), not_empty);
  } else {
    note(kept);
  }
  if (InterruptGuard::received() != 0) return kInterruptedStatus;
  return succeeded ? 0 : 1;
}

}  // namespace

void add_run_command(CLI::App& app, Commands& commands) {
  auto flags = std::make_shared<RunFlags>();
  auto* run_cmd = app.add_subcommand(
      "run", "run one job on this machine: a local coordinator and worker, its log, a summary");
  run_cmd->add_option("spec", flags->spec, "job spec (YAML), or 'demo' for the fortunes demo")
      ->required();
  run_cmd
      ->add_option("--set", flags->overrides, "override a spec field: --set lora.r=8 (repeatable)")
      ->allow_extra_args(false);
  run_cmd
      ->add_option("--cpu-slots,--workers-cpu-slots", flags->cpu_slots,
                   "the worker's CPU slots when it has no GPU (default: resources.gpus)")
      ->check(CLI::Range(1, 1024));
  run_cmd->add_option("--data-dir", flags->data_dir,
                      "where the coordinator and worker keep their state (default: "
                      "./runs/.gradpool/<time>, removed after a successful run)");
  run_cmd->add_flag("--keep", flags->keep, "keep the default data directory after success");
  commands.push_back({run_cmd, "run", [flags] { return run_local(*flags); }});
}

}  // namespace gradpool::cli
