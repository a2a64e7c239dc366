// JobSubmission: turns a SubmitRequest into the job rows to insert. It parses the spec with the
// same parse_job_spec as gradpool-train, then checks what only the pool can check (quota, paths
// the workers will open, the registered dataset), and expands job arrays. Nothing is stored here;
// Lifecycle::submit() inserts the result in one transaction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/job_spec.h"
#include "coordinator/auth/token_store.h"
#include "coordinator/datasets/dataset_store.h"
#include "coordinator/scheduler/scheduler.h"
#include "coordinator/store/job_store.h"
#include "proto/gradpool.pb.h"

namespace gradpool {

// One job ready to insert; its output may depend on the id the row gets.
struct PreparedJob {
  JobSpec spec;
  JobRecord record;             // QUEUED, spec_yaml and output still without the id
  bool output_from_id = false;  // relative output: becomes <output-root>/<user>/<id>-<name>

  // The record as stored once the row has `id` (and the array its first job's id).
  JobRecord finalize(uint64_t id, uint64_t array_id, const std::string& output_root) const;
};

class JobSubmission {
 public:
  // `policy` gives the per-user GPU quotas; `output_root` receives relative outputs.
  JobSubmission(const DatasetStore& datasets, const sched::Policy& policy, std::string output_root);

  // Every error is an Error (→ INVALID_ARGUMENT) naming the source and the field.
  std::vector<PreparedJob> prepare(const v1::SubmitRequest& request, const Caller& caller,
                                   int64_t now_ms) const;

  const std::string& output_root() const { return output_root_; }

 private:
  PreparedJob prepare_one(const JobSpec& spec, const std::string& source, const Caller& caller,
                          int64_t now_ms) const;
  void check_paths(const JobSpec& spec, const std::string& source, PreparedJob& job) const;

  const DatasetStore& datasets_;
  const sched::Policy& policy_;
  std::string output_root_;
};

}  // namespace gradpool
