// gradpool workers: the pool's workers, their slots and how busy they are.
#include <cstdio>

#include "cli/command.h"
#include "cli/format.h"
#include "cli/views.h"

namespace gradpool::cli {
namespace {

int workers(const GlobalOptions& global) {
  Client client(global);
  v1::ListWorkersResponse response;
  client.check(client.workers().List(client.context().get(), v1::ListWorkersRequest(), &response));
  print_table(worker_table(response.workers(), now_ms()));
  return 0;
}

}  // namespace

void add_worker_commands(CLI::App& app, const GlobalOptions& global, Commands& commands) {
  auto* workers_cmd = app.add_subcommand("workers", "list the workers and their GPUs");
  commands.push_back({workers_cmd, "workers", [&global] { return workers(global); }});
}

}  // namespace gradpool::cli
