#include "cli/step_rates.h"

namespace gradpool::cli {

void StepRates::observe(const google::protobuf::RepeatedPtrField<v1::Job>& jobs) {
  std::map<uint64_t, Record> seen;
  for (const auto& job : jobs) {
    const v1::Progress& progress = job.progress();
    if (progress.updated_ms() <= 0) continue;
    Record record;
    const auto previous = records_.find(job.id());
    if (previous != records_.end() && previous->second.attempt == job.attempt())
      record = previous->second;
    else
      record = {job.attempt(), progress.step(), progress.updated_ms()};
    record.last_step = progress.step();
    record.last_ms = progress.updated_ms();
    seen[job.id()] = record;
  }
  records_ = std::move(seen);
}

std::optional<double> StepRates::steps_per_second(uint64_t job_id) const {
  const auto found = records_.find(job_id);
  if (found == records_.end()) return std::nullopt;
  const Record& record = found->second;
  if (record.last_step <= record.first_step || record.last_ms <= record.first_ms)
    return std::nullopt;
  return static_cast<double>(record.last_step - record.first_step) * 1000.0 /
         static_cast<double>(record.last_ms - record.first_ms);
}

}  // namespace gradpool::cli
