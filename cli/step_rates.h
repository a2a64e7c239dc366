// StepRates: how fast each job has stepped while `gradpool top` watched it. It gives the ETA of a
// job that tokens/s cannot: a restarted attempt resumes at a checkpoint and counts its tokens from
// there, so tokens per step cannot be told from the job's figures alone.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include <google/protobuf/repeated_field.h>

#include "proto/gradpool.pb.h"

namespace gradpool::cli {

class StepRates {
 public:
  // Records each job's step at the time of its progress (updated_ms). A job's new attempt starts
  // its record over; jobs missing from `jobs` are forgotten.
  void observe(const google::protobuf::RepeatedPtrField<v1::Job>& jobs);

  // Steps per second between the first and the latest record of the job's current attempt;
  // nullopt until its step has moved.
  std::optional<double> steps_per_second(uint64_t job_id) const;

 private:
  struct Record {
    int32_t attempt = 0;
    int64_t first_step = 0, first_ms = 0;
    int64_t last_step = 0, last_ms = 0;
  };
  std::map<uint64_t, Record> records_;
};

}  // namespace gradpool::cli
