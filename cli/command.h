// Command: one leaf subcommand of `gradpool` ("list", "datasets add") and what runs it. Each
// *_commands.cc file registers its commands on the CLI11 app; main runs the one that was parsed.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/client.h"

namespace gradpool::cli {

struct Command {
  CLI::App* app;
  std::string name;          // as typed: "datasets add"; prefixes error messages
  std::function<int()> run;  // returns the exit status; throws Error for "gradpool: NAME: ..."
};

using Commands = std::vector<Command>;

// Registration, one per file. `global` is filled by the time a command runs.
void add_job_commands(CLI::App& app, const GlobalOptions& global, Commands& commands);
void add_dataset_commands(CLI::App& app, const GlobalOptions& global, Commands& commands);
void add_worker_commands(CLI::App& app, const GlobalOptions& global, Commands& commands);
void add_top_command(CLI::App& app, const GlobalOptions& global, Commands& commands);
// `run` reaches the coordinator it starts itself, so it takes none of the global options.
void add_run_command(CLI::App& app, Commands& commands);

}  // namespace gradpool::cli
