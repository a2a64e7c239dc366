// process_main: the shared body of gradpool's daemons' and tools' main(): log lines (and so every
// [error]) to stderr, and one mapping from what escapes `run` to an exit status — Error (bad
// input, named by its message) → 1, anything else → 70 (EX_SOFTWARE) as an internal error.
#pragma once

#include <exception>
#include <memory>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/error.h"

namespace gradpool {

template <typename Run>
int process_main(Run&& run, int argc, char** argv) {
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "", std::make_shared<spdlog::sinks::stderr_color_sink_mt>()));
  try {
    return run(argc, argv);
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const std::exception& e) {
    spdlog::critical("internal error: {}", e.what());
    return 70;
  }
}

}  // namespace gradpool
