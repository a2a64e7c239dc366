// How the CLI writes job, worker and dataset fields as text: states with their queue reason,
// durations, sizes, rates and progress bars. Pure functions of their inputs (the clock is passed
// in) so that tests pin the exact text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/gradpool.pb.h"

namespace gradpool::cli {

int64_t now_ms();  // Unix milliseconds, like every time in the API

bool is_final(v1::JobState state);  // SUCCEEDED, FAILED or CANCELLED

// "QUEUED", "RUNNING", ... and back from "queued"/"RUNNING" (nullopt when unknown).
std::string state_name(v1::JobState state);
std::optional<v1::JobState> parse_state(std::string_view name);
std::string state_names();  // "queued, starting, ...": for error messages

// Why a queued job waits, in a word or two for tables ("quota", "gpus busy") and in a sentence
// for `show`.
std::string reason_text(v1::PendingReason reason);
std::string reason_description(v1::PendingReason reason);

// The STATE column: "RUNNING", "QUEUED (quota) #3" (the position when known).
std::string state_text(const v1::Job& job);

// "45s", "12m03s", "3h04m", "2d05h"; negative durations (clock skew) read "0s".
std::string duration_text(int64_t ms);

// The AGE/DURATION column: how long a queued job has waited, how long a placed job has run, and
// how long a finished one ran (or waited, if it never started).
std::string job_time_text(const v1::Job& job, int64_t now_ms);

std::string step_text(const v1::Progress& progress);  // "12/100", "-" before the first step
std::string loss_text(const v1::Progress& progress);  // "2.314", "-" before the first step
std::string rate_text(double per_second);             // "950", "8.2k", "1.3M", "-" when 0

std::string bytes_text(int64_t bytes);  // "512 B", "1.5 MiB"

// Local time "2024-05-01 12:00:03", "-" for 0.
std::string time_text(int64_t unix_ms);
// "3s ago", "-" for 0.
std::string ago_text(int64_t then_ms, int64_t now_ms);

// "NVIDIA A100-SXM4-80GB" reads "A100-SXM4-80GB" in a table.
std::string short_gpu_name(const std::string& name);

// A worker's slots grouped by model: "2x cpu", "4x A100-SXM4-80GB", "1x A100, 1x T4".
std::string gpus_text(const v1::Worker& worker);
// "1/2": busy slots of all slots.
std::string busy_text(const v1::Worker& worker);
std::string worker_state_text(v1::WorkerState state);  // "UP", "LOST"

// "[#########...........]" with `width` cells between the brackets; `fraction` is clamped to [0,1].
std::string progress_bar(double fraction, size_t width);

}  // namespace gradpool::cli
