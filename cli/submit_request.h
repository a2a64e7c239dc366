// What `gradpool submit` and `gradpool run` send to Jobs.Submit.
//
// The spec is validated here first with the same parse_job_spec as the coordinator and
// gradpool-train, so a typo gets the same message without a round trip; the coordinator still
// decides. The request carries the spec text as written and the user's --set overrides, followed
// by overrides that make local paths absolute: the workers need paths they can open, not paths
// relative to wherever the user typed the command.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/job_spec.h"
#include "proto/gradpool.pb.h"

namespace gradpool::cli {

struct SubmitArgs {
  std::string spec_text;
  std::string source_name;             // the file name, for error messages
  std::vector<std::string> overrides;  // --set field=value, in order
  int array_size = 0;                  // --array N
  // `gradpool run`: the default output (./runs/<name>) also becomes absolute, so the adapter
  // lands where `gradpool-train --config` would put it. `submit` leaves it to the coordinator's
  // --output-root.
  bool absolute_default_output = false;
};

struct PreparedSubmit {
  v1::SubmitRequest request;
  JobSpec spec;  // as validated here, path overrides applied
};

// Validates and builds the request; Error (from parse_job_spec, naming the field) on a bad spec.
// Relative paths are resolved against `cwd`: `model`, an explicitly given `output`, and `dataset`
// when it names a file (see dataset_is_path). A registered dataset name is passed as is.
PreparedSubmit prepare_submit(const SubmitArgs& args, const std::filesystem::path& cwd);

// Whether `dataset` is a file rather than a registered dataset: it contains '/', or it ends in
// ".jsonl" and exists under `cwd`.
bool dataset_is_path(const std::string& dataset, const std::filesystem::path& cwd);

}  // namespace gradpool::cli
