// gradpool: the command line of the pool. Global options say which coordinator to reach and how;
// each subcommand is registered by its *_commands.cc file (command.h) and run here, so that every
// failure reads "gradpool: <command>: <what went wrong>" and exits 1.
//   gradpool submit job.yaml --set lora.r=8
//   gradpool list --mine
//   gradpool logs -f 42
//   gradpool top
//   gradpool run demo
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "common/error.h"

namespace gradpool::cli {
namespace {

int main_cli(int argc, char** argv) {
  CLI::App app{"gradpool: LoRA fine-tuning jobs on a shared GPU pool"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand
  GlobalOptions global;
  app.add_option("--coordinator", global.coordinator, "coordinator address HOST:PORT")
      ->envname("GRADPOOL_COORDINATOR")
      ->capture_default_str();
  app.add_option("--token-file", global.token_file,
                 "file holding your API token (else $GRADPOOL_TOKEN, else "
                 "~/.config/gradpool/token)");
  app.add_option("--ca-cert", global.ca_cert, "CA certificate (PEM) of a TLS coordinator")
      ->envname("GRADPOOL_CA_CERT");
  app.add_option("--timeout-s", global.timeout_s, "deadline of each request in seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 86400.0));

  Commands commands;
  add_job_commands(app, global, commands);
  add_worker_commands(app, global, commands);
  add_dataset_commands(app, global, commands);
  add_top_command(app, global, commands);
  add_run_command(app, commands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; a usage error exits 2, as command lines do.
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (const Command& command : commands) {
    if (!command.app->parsed()) continue;
    try {
      return command.run();
    } catch (const std::exception& e) {
      std::fflush(stdout);
      std::fprintf(stderr, "gradpool: %s: %s\n", command.name.c_str(), e.what());
      return 1;
    }
  }
  std::fputs(app.help().c_str(), stderr);
  return 2;
}

}  // namespace
}  // namespace gradpool::cli

int main(int argc, char** argv) {
  return gradpool::cli::main_cli(argc, argv);
}
