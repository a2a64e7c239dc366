#include "coordinator/jobs/submission.h"

#include <filesystem>

#include "common/error.h"
#include "coordinator/auth/names.h"

namespace gradpool {
namespace {

constexpr int kMaxArraySize = 1000;
constexpr int64_t kMaxGpusPerJob = 4096;
constexpr int64_t kMaxRestarts = 1000;
constexpr size_t kMaxSpecBytes = 1 << 20;
constexpr size_t kMaxOverrides = 256;
constexpr char kIndexPlaceholder[] = "{index}";

bool is_absolute(const std::string& path) {
  return !path.empty() && path.front() == '/';
}

bool has_parent_reference(const std::string& path) {
  for (const auto& part : std::filesystem::path(path))
    if (part == "..") return true;
  return false;
}

// Paths are opened by the workers, whose working directory is nobody's business: absolute only.
void check_worker_path(const std::string& path, const std::string& source, const char* field) {
  if (!is_absolute(path))
    fail("{}: {}: must be an absolute path on the workers, got '{}'", source, field, path);
  if (has_parent_reference(path))
    fail("{}: {}: '..' is not allowed, got '{}'", source, field, path);
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// The spec of array element `index`: "{index}" replaced everywhere in the text and overrides.
JobSpec parse_array_element(const v1::SubmitRequest& request, const std::string& source,
                            int index) {
  const std::string number = std::to_string(index);
  std::vector<std::string> overrides;
  for (const std::string& item : request.overrides())
    overrides.push_back(replace_all(item, kIndexPlaceholder, number));
  return parse_job_spec(replace_all(request.spec_yaml(), kIndexPlaceholder, number), source,
                        overrides);
}

void check_request_sizes(const v1::SubmitRequest& request, const std::string& source) {
  if (request.spec_yaml().size() > kMaxSpecBytes)
    fail("{}: the spec is {} bytes; at most {} are accepted", source, request.spec_yaml().size(),
         kMaxSpecBytes);
  if (static_cast<size_t>(request.overrides_size()) > kMaxOverrides)
    fail("overrides: {} given; at most {} are accepted", request.overrides_size(), kMaxOverrides);
  if (request.array_size() < 0 || request.array_size() > kMaxArraySize)
    fail("array_size: must be between 0 and {}, got {}", kMaxArraySize, request.array_size());
}

}  // namespace

JobRecord PreparedJob::finalize(uint64_t id, uint64_t array_id,
                                const std::string& output_root) const {
  JobRecord stored = record;
  stored.job.set_id(id);
  stored.job.set_array_id(array_id);
  if (output_from_id) {
    JobSpec resolved = spec;
    resolved.output = (std::filesystem::path(output_root) / stored.job.user() /
                       (std::to_string(id) + "-" + spec.name))
                          .string();
    stored.job.set_output(resolved.output);
    stored.job.set_spec_yaml(to_yaml(resolved));
  }
  return stored;
}

JobSubmission::JobSubmission(const DatasetStore& datasets, const sched::Policy& policy,
                             std::string output_root)
    : datasets_(datasets), policy_(policy), output_root_(std::move(output_root)) {}

std::vector<PreparedJob> JobSubmission::prepare(const v1::SubmitRequest& request,
                                                const Caller& caller, int64_t now_ms) const {
  const std::string source =
      request.source_name().empty() ? "spec" : request.source_name().substr(0, 256);
  check_request_sizes(request, source);
  if (!is_valid_name(caller.user))
    fail("user '{}': cannot own jobs (the name becomes part of output paths)", caller.user);

  if (request.array_size() <= 1) {
    const JobSpec spec = parse_job_spec(request.spec_yaml(), source,
                                        {request.overrides().begin(), request.overrides().end()});
    return {prepare_one(spec, source, caller, now_ms)};
  }
  // Arrays: element i gets "{index}" → i and, unless the spec derives its seed from {index},
  // seed + i, so that the elements differ even when nothing else does.
  const JobSpec first = parse_array_element(request, source, 0);
  std::vector<PreparedJob> jobs;
  for (int index = 0; index < request.array_size(); ++index) {
    JobSpec spec = parse_array_element(request, source, index);
    if (index > 0 && spec.output == first.output && is_absolute(spec.output))
      fail(
          "{}: output: the {} jobs of the array would all write to '{}'; put {} in it or make "
          "it relative",
          source, request.array_size(), spec.output, kIndexPlaceholder);
    if (spec.seed == first.seed) spec.seed = first.seed + index;
    PreparedJob job = prepare_one(spec, source, caller, now_ms);
    job.record.job.set_array_index(index);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

PreparedJob JobSubmission::prepare_one(const JobSpec& spec, const std::string& source,
                                       const Caller& caller, int64_t now_ms) const {
  PreparedJob job;
  job.spec = spec;
  if (spec.resources.gpus > kMaxGpusPerJob)
    fail("{}: resources.gpus: at most {} per job, got {}", source, kMaxGpusPerJob,
         spec.resources.gpus);
  const int quota = sched::quota_of(policy_, caller.user);
  if (quota > 0 && spec.resources.gpus > quota)
    fail("{}: resources.gpus: {} is more than the GPU quota of user '{}' ({})", source,
         spec.resources.gpus, caller.user, quota);
  if (spec.max_restarts > kMaxRestarts)
    fail("{}: max_restarts: at most {}, got {}", source, kMaxRestarts, spec.max_restarts);
  check_paths(job.spec, source, job);

  v1::Job& row = job.record.job;
  row.set_user(caller.user);
  row.set_name(spec.name);
  row.set_state(v1::JOB_QUEUED);
  row.set_spec_yaml(to_yaml(job.spec));
  row.set_gpus(static_cast<int32_t>(spec.resources.gpus));
  row.set_gpu_type(spec.resources.gpu_type);
  row.set_min_gpu_memory_gb(spec.resources.min_gpu_memory_gb);
  row.set_priority(spec.priority);
  row.set_submit_ms(now_ms);
  row.set_max_restarts(static_cast<int32_t>(spec.max_restarts));
  row.set_output(job.spec.output);
  row.set_dataset(spec.dataset);
  return job;
}

void JobSubmission::check_paths(const JobSpec& spec, const std::string& source,
                                PreparedJob& job) const {
  check_worker_path(spec.model, source, "model");
  if (spec.lora.init_from) check_worker_path(*spec.lora.init_from, source, "lora.init_from");

  if (spec.dataset.find('/') == std::string::npos) {
    if (!is_valid_name(spec.dataset))
      fail(
          "{}: dataset: '{}' is neither a registered dataset name ([A-Za-z0-9._-]{{1,64}}) nor "
          "an absolute .jsonl path",
          source, spec.dataset);
    const auto dataset = datasets_.find(spec.dataset);
    if (!dataset)
      fail(
          "{}: dataset: no dataset named '{}' is registered (upload it first, or give an "
          "absolute .jsonl path)",
          source, spec.dataset);
    job.record.dataset_sha256 = dataset->sha256();
  } else {
    check_worker_path(spec.dataset, source, "dataset");
    if (std::filesystem::path(spec.dataset).extension() != ".jsonl")
      fail("{}: dataset: a path must name a .jsonl file, got '{}'", source, spec.dataset);
  }

  if (is_absolute(spec.output)) {
    check_worker_path(spec.output, source, "output");
  } else {
    job.output_from_id = true;  // finalize() fills it in once the id is known
  }
}

}  // namespace gradpool
