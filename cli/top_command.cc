// gradpool top [--once] [--interval-s S]: the pool and its running and queued jobs. On a terminal
// it redraws every S seconds in place until q or Ctrl-C; with --once, or when stdout is not a
// terminal (scripts), it prints one frame as plain text. The frame itself is top_frame.h's.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/format.h"
#include "cli/interrupt.h"
#include "cli/live_screen.h"
#include "cli/terminal.h"
#include "cli/top_frame.h"

namespace gradpool::cli {
namespace {

struct TopFlags {
  double interval_s = 2;
  bool once = false;
};

v1::ListJobsRequest active_jobs_request() {
  v1::ListJobsRequest request;
  for (auto state : {v1::JOB_QUEUED, v1::JOB_STARTING, v1::JOB_RUNNING}) request.add_states(state);
  return request;
}

// Fetches the workers and the active jobs into `snapshot`. A coordinator that cannot be reached
// (restarting, say) is only noted in `snapshot.problem` when `tolerate_unreachable`, keeping what
// was fetched before; every other failure (a rejected token) is an Error.
void refresh(Client& client, TopSnapshot& snapshot, bool tolerate_unreachable) {
  v1::ListWorkersResponse workers;
  v1::ListJobsResponse jobs;
  grpc::Status status =
      client.workers().List(client.context().get(), v1::ListWorkersRequest(), &workers);
  if (status.ok())
    status = client.jobs().List(client.context().get(), active_jobs_request(), &jobs);
  if (!status.ok()) {
    const bool unreachable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                             status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (!tolerate_unreachable || !unreachable) client.check(status);
    snapshot.problem = client.describe_failure(status);
    return;
  }
  snapshot.workers = std::move(workers);
  snapshot.jobs = std::move(jobs);
  snapshot.fetched_ms = now_ms();
  snapshot.problem.clear();
}

// Redraws until q or a signal: 0 for q and Ctrl-C (how one leaves top), 128 + the signal for
// others.
int live(Client& client, TopSnapshot snapshot, std::chrono::duration<double> interval) {
  InterruptGuard interrupts;
  LiveScreen screen;
  StepRates rates;
  for (bool first = true;; first = false) {
    if (!first) refresh(client, snapshot, true);
    rates.observe(snapshot.jobs.jobs());
    const auto next = std::chrono::steady_clock::now() +
                      std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval);
    LiveScreen::Event event;
    do {
      screen.draw(top_frame(snapshot, rates, screen.size(), now_ms()));
      event = screen.wait(next);
    } while (event == LiveScreen::Event::kResized);
    if (event == LiveScreen::Event::kQuit) return 0;
    if (event == LiveScreen::Event::kInterrupted) {
      const int signal = InterruptGuard::received();
      return signal == SIGINT ? 0 : 128 + signal;
    }
  }
}

int top(const GlobalOptions& global, const TopFlags& flags) {
  Client client(global);
  TopSnapshot snapshot;
  snapshot.coordinator = client.endpoint().address;
  // The first fetch fails loudly, on the ordinary screen: a wrong address or token is a mistake
  // to fix, not a state to watch.
  refresh(client, snapshot, false);
  if (!flags.once && stdout_is_tty())
    return live(client, std::move(snapshot), std::chrono::duration<double>(flags.interval_s));
  std::fputs(top_frame(snapshot, StepRates(), {output_width(), 0}, now_ms()).c_str(), stdout);
  return 0;
}

}  // namespace

void add_top_command(CLI::App& app, const GlobalOptions& global, Commands& commands) {
  auto flags = std::make_shared<TopFlags>();
  auto* top_cmd = app.add_subcommand(
      "top", "the pool and its jobs (tokens/s, loss, ETA), refreshed in place; q quits");
  top_cmd->add_option("--interval-s", flags->interval_s, "seconds between refreshes")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  top_cmd->add_flag("--once", flags->once,
                    "print one frame and exit (what top does when stdout is not a terminal)");
  commands.push_back({top_cmd, "top", [&global, flags] { return top(global, *flags); }});
}

}  // namespace gradpool::cli
