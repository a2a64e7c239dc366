#include "coordinator/jobs/job_logs.h"

#include <cstdio>
#include <memory>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"

namespace gradpool {
namespace {

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

int64_t size_of(const std::filesystem::path& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  return error ? 0 : static_cast<int64_t>(size);
}

}  // namespace

JobLogs::JobLogs(std::filesystem::path dir, int64_t max_bytes_per_job)
    : dir_(std::move(dir)), max_bytes_per_job_(max_bytes_per_job) {
  std::error_code error;
  std::filesystem::create_directories(dir_, error);
  if (error) fail("{}: cannot create the log directory: {}", dir_.string(), error.message());
}

std::filesystem::path JobLogs::path_of(uint64_t job_id) const {
  return dir_ / (std::to_string(job_id) + ".log");
}

void JobLogs::append(uint64_t job_id, const std::string& text) {
  const std::filesystem::path path = path_of(job_id);
  File file(std::fopen(path.c_str(), "ab"), &std::fclose);
  // A log that cannot be written must not fail the job transition that produced it.
  if (!file || std::fwrite(text.data(), 1, text.size(), file.get()) != text.size())
    spdlog::warn("{}: cannot append to the job log", path.string());
}

void JobLogs::event(uint64_t job_id, std::string_view text) {
  std::lock_guard held(mutex_);
  append(job_id, fmt::format("[gradpool] {}\n", text));
}

void JobLogs::rank_output(uint64_t job_id, int rank, std::string_view output) {
  std::string lines;
  const std::string prefix = fmt::format("[rank {}] ", rank);
  while (!output.empty()) {
    const size_t end = std::min(output.find('\n'), output.size());
    std::string_view line = output.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.append(prefix).append(line).append("\n");
    output.remove_prefix(std::min(end + 1, output.size()));
  }
  if (lines.empty()) return;
  std::lock_guard held(mutex_);
  // A soft limit: the batch that crosses it is written, then the note, then nothing more.
  const int64_t size = size_of(path_of(job_id));
  if (size >= max_bytes_per_job_) return;
  if (size + static_cast<int64_t>(lines.size()) >= max_bytes_per_job_)
    lines += fmt::format("[gradpool] the log reached {} bytes; further rank output is dropped\n",
                         max_bytes_per_job_);
  append(job_id, lines);
}

std::string JobLogs::read(uint64_t job_id, int64_t offset, size_t max_bytes) const {
  File file(std::fopen(path_of(job_id).c_str(), "rb"), &std::fclose);
  if (!file || std::fseek(file.get(), offset, SEEK_SET) != 0) return "";
  std::string data(max_bytes, '\0');
  data.resize(std::fread(data.data(), 1, max_bytes, file.get()));
  const size_t last_newline = data.rfind('\n');
  if (last_newline != std::string::npos) {
    data.resize(last_newline + 1);
  } else if (data.size() < max_bytes) {
    data.clear();  // a line still being written
  }
  return data;
}

}  // namespace gradpool
