#include "cli/format.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace gradpool::cli {
namespace {

constexpr std::pair<v1::JobState, const char*> kStateNames[] = {
    {v1::JOB_QUEUED, "QUEUED"},   {v1::JOB_STARTING, "STARTING"},
    {v1::JOB_RUNNING, "RUNNING"}, {v1::JOB_SUCCEEDED, "SUCCEEDED"},
    {v1::JOB_FAILED, "FAILED"},   {v1::JOB_CANCELLED, "CANCELLED"}};

}  // namespace

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_final(v1::JobState state) {
  return state == v1::JOB_SUCCEEDED || state == v1::JOB_FAILED || state == v1::JOB_CANCELLED;
}

std::string state_name(v1::JobState state) {
  for (const auto& [value, name] : kStateNames)
    if (value == state) return name;
  return "UNKNOWN";
}

std::optional<v1::JobState> parse_state(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const auto& [value, spelling] : kStateNames)
    if (upper == spelling) return value;
  return std::nullopt;
}

std::string state_names() {
  std::string out;
  for (const auto& [value, name] : kStateNames) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out += (out.empty() ? "" : ", ") + lower;
  }
  return out;
}

std::string reason_text(v1::PendingReason reason) {
  switch (reason) {
    case v1::REASON_WAITING_FOR_GPUS:
      return "gpus busy";
    case v1::REASON_PRIORITY:
      return "priority";
    case v1::REASON_QUOTA:
      return "quota";
    case v1::REASON_NO_MATCHING_GPUS:
      return "no gpus fit";
    case v1::REASON_STOPPING_PREVIOUS:
      return "stopping";
    default:
      return "";
  }
}

std::string reason_description(v1::PendingReason reason) {
  switch (reason) {
    case v1::REASON_WAITING_FOR_GPUS:
      return "first in line; waiting for enough matching GPUs to free up";
    case v1::REASON_PRIORITY:
      return "jobs ahead of it (priority, fair share, age) go first";
    case v1::REASON_QUOTA:
      return "its owner's GPU quota is in use";
    case v1::REASON_NO_MATCHING_GPUS:
      return "no registered workers have enough GPUs of the requested type and memory";
    case v1::REASON_STOPPING_PREVIOUS:
      return "restarting; the ranks of its previous attempt are still exiting";
    default:
      return "";
  }
}

std::string state_text(const v1::Job& job) {
  std::string text = state_name(job.state());
  if (job.state() != v1::JOB_QUEUED) return text;
  const std::string reason = reason_text(job.reason());
  if (!reason.empty()) text += " (" + reason + ")";
  if (job.queue_position() > 0) text += fmt::format(" #{}", job.queue_position());
  return text;
}

std::string duration_text(int64_t ms) {
  const int64_t seconds = std::max<int64_t>(ms, 0) / 1000;
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m{:02}s", seconds / 60, seconds % 60);
  if (seconds < 86400) return fmt::format("{}h{:02}m", seconds / 3600, seconds % 3600 / 60);
  return fmt::format("{}d{:02}h", seconds / 86400, seconds % 86400 / 3600);
}

std::string job_time_text(const v1::Job& job, int64_t now_ms) {
  if (is_final(job.state())) {
    const int64_t began = job.start_ms() > 0 ? job.start_ms() : job.submit_ms();
    return duration_text(job.end_ms() - began);
  }
  if (job.state() == v1::JOB_QUEUED || job.start_ms() == 0)
    return duration_text(now_ms - job.submit_ms());
  return duration_text(now_ms - job.start_ms());
}

std::string step_text(const v1::Progress& progress) {
  if (progress.step() == 0 && progress.total_steps() == 0) return "-";
  if (progress.total_steps() == 0) return std::to_string(progress.step());
  return fmt::format("{}/{}", progress.step(), progress.total_steps());
}

std::string loss_text(const v1::Progress& progress) {
  return progress.step() == 0 ? "-" : fmt::format("{:.3f}", progress.loss());
}

std::string rate_text(double per_second) {
  if (per_second <= 0) return "-";
  if (per_second < 1e3) return fmt::format("{:.0f}", per_second);
  if (per_second < 1e6) return fmt::format("{:.1f}k", per_second / 1e3);
  return fmt::format("{:.1f}M", per_second / 1e6);
}

std::string bytes_text(int64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) value /= 1024, ++unit;
  return fmt::format("{:.1f} {}", value, units[unit]);
}

std::string time_text(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm local{};
  ::localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

std::string ago_text(int64_t then_ms, int64_t now_ms) {
  return then_ms <= 0 ? "-" : duration_text(now_ms - then_ms) + " ago";
}

std::string short_gpu_name(const std::string& name) {
  const std::string vendor = "NVIDIA ";
  return name.rfind(vendor, 0) == 0 ? name.substr(vendor.size()) : name;
}

std::string gpus_text(const v1::Worker& worker) {
  std::vector<std::pair<std::string, int>> counts;  // in order of first appearance
  for (const auto& gpu : worker.gpus()) {
    const std::string name = short_gpu_name(gpu.name());
    auto found = std::find_if(counts.begin(), counts.end(),
                              [&](const auto& entry) { return entry.first == name; });
    if (found == counts.end())
      counts.emplace_back(name, 1);
    else
      ++found->second;
  }
  std::string text;
  for (const auto& [name, count] : counts)
    text += fmt::format("{}{}x {}", text.empty() ? "" : ", ", count, name);
  return text.empty() ? "-" : text;
}

std::string busy_text(const v1::Worker& worker) {
  return fmt::format("{}/{}", worker.busy_slots_size(), worker.gpus_size());
}

std::string worker_state_text(v1::WorkerState state) {
  switch (state) {
    case v1::WORKER_UP:
      return "UP";
    case v1::WORKER_LOST:
      return "LOST";
    default:
      return "UNKNOWN";
  }
}

std::string progress_bar(double fraction, size_t width) {
  const double clamped = std::clamp(fraction, 0.0, 1.0);
  const auto filled = static_cast<size_t>(clamped * static_cast<double>(width) + 0.5);
  return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
}

}  // namespace gradpool::cli
