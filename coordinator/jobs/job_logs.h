// JobLogs: one append-only text file per job, <data-dir>/logs/<job-id>.log, holding the ranks'
// output as "[rank R] line" and the coordinator's own events as "[gradpool] line". Jobs.Logs
// streams these files. Appends are serialised here; readers only ever see whole lines.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>

namespace gradpool {

class JobLogs {
 public:
  // Creates `dir`. Rank output past max_bytes_per_job is dropped (after one note saying so), so
  // that a chatty rank cannot fill the coordinator's disk; events are always written.
  JobLogs(std::filesystem::path dir, int64_t max_bytes_per_job);

  // Appends "[gradpool] <text>".
  void event(uint64_t job_id, std::string_view text);
  // Appends each line of `output` as "[rank R] <line>".
  void rank_output(uint64_t job_id, int rank, std::string_view output);

  // Up to max_bytes from `offset`, cut after the last complete line (a single line longer than
  // max_bytes comes in pieces). Empty past the end or when the log does not exist yet.
  std::string read(uint64_t job_id, int64_t offset, size_t max_bytes) const;

 private:
  std::filesystem::path path_of(uint64_t job_id) const;
  void append(uint64_t job_id, const std::string& text);

  std::filesystem::path dir_;
  int64_t max_bytes_per_job_;
  std::mutex mutex_;
};

}  // namespace gradpool
