// Helpers of the worker tests that run ranks: a real gradpool-train on the tiny model and dataset
// of tests/integration (TrainProcess), or a small shell script standing in for it.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/train_process_fixture.h"
#include "worker/daemon/rank_launcher.h"

namespace gradpool::testing {

// Polls `done` every few milliseconds until it holds or the deadline passes.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::seconds timeout = kDeadline) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// An executable /bin/sh script at `path` with `body`.
inline std::string write_script(const fs::path& path, const std::string& body) {
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  fs::permissions(path, fs::perms::owner_all);
  return path.string();
}

// An assignment of rank `rank` of a world of `world` for job 1, attempt 1, on slot 0.
inline v1::RankAssignment assignment_for(const std::string& spec_yaml, int rank = 0,
                                         int world = 1) {
  v1::RankAssignment assignment;
  assignment.mutable_ref()->set_job_id(1);
  assignment.mutable_ref()->set_attempt(1);
  assignment.mutable_ref()->set_rank(rank);
  assignment.set_world_size(world);
  assignment.set_slot(0);
  assignment.set_spec_yaml(spec_yaml);
  assignment.set_backend("gloo");
  assignment.set_rendezvous_token("rdv-token");
  return assignment;
}

// The worker-wide launch settings for `train_bin` (a world of one never dials the coordinator).
inline LaunchSettings launch_settings(const std::string& train_bin = GRADPOOL_TRAIN_BIN) {
  return {train_bin, "127.0.0.1:1", "127.0.0.1", ""};
}

// The YAML text of `spec`.
inline std::string yaml_of(const Spec& spec, const fs::path& scratch) {
  spec.write(scratch);
  return read_file(scratch.string());
}

}  // namespace gradpool::testing
