#include "cli/views.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "cli/format.h"
#include "cli/terminal.h"

namespace gradpool::cli {
namespace {

constexpr size_t kShortDigestLength = 12;

std::string short_digest(const std::string& sha256) {
  return sha256.substr(0, kShortDigestLength);
}

// "  key:        value\n", the values of one page lined up.
std::string field(const std::string& key, const std::string& value) {
  return fmt::format("  {:<12}{}\n", key + ":", value);
}

std::string indented(const std::string& text, const std::string& indent) {
  std::string out;
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t end = std::min(text.find('\n', begin), text.size());
    out += indent + text.substr(begin, end - begin) + "\n";
    begin = end + 1;
  }
  return out;
}

// A table inside a page: indented by two, and so two columns narrower.
std::string nested_table(const Table& table, size_t max_width) {
  return indented(table.render(max_width > 2 ? max_width - 2 : 0), "  ");
}

std::string when_text(int64_t unix_ms, int64_t now_ms) {
  return unix_ms <= 0 ? "-" : fmt::format("{} ({})", time_text(unix_ms), ago_text(unix_ms, now_ms));
}

std::string progress_text(const v1::Progress& progress, bool tty) {
  if (progress.total_steps() <= 0) return step_text(progress);
  const double fraction =
      static_cast<double>(progress.step()) / static_cast<double>(progress.total_steps());
  const std::string percent = fmt::format("{:.0f}%", fraction * 100);
  const std::string steps = fmt::format("step {}", step_text(progress));
  return tty ? fmt::format("{} {} {}", progress_bar(fraction, 30), percent, steps)
             : fmt::format("{} {}", percent, steps);
}

std::string figures_text(const v1::Progress& progress) {
  if (progress.step() == 0) return "-";
  std::string text = fmt::format("loss {}  lr {:.2e}  grad norm {:.3f}  {} tok/s",
                                 loss_text(progress), progress.learning_rate(),
                                 progress.grad_norm(), rate_text(progress.tokens_per_second()));
  if (progress.tokens() > 0) text += fmt::format("  {} tokens", progress.tokens());
  if (progress.checkpoint_step() > 0)
    text += fmt::format("  checkpoint at step {}", progress.checkpoint_step());
  return text;
}

}  // namespace

void print_table(const Table& table) {
  const std::string text =
      stdout_is_tty() ? table.render(output_width()) : table.render_tab_separated();
  std::fputs(text.c_str(), stdout);
}

std::string job_details(const v1::Job& job, int64_t now_ms, bool tty, size_t max_width) {
  std::string out = fmt::format("job {}: {}\n", job.id(), job.name());
  out += field("state", state_text(job));
  if (job.state() == v1::JOB_QUEUED && job.reason() != v1::REASON_NONE)
    out += field("waiting", reason_description(job.reason()));
  out += field("user", job.user());
  out += field("dataset", job.dataset());
  std::string gpus = fmt::format("{} (type {}", job.gpus(), job.gpu_type());
  if (job.min_gpu_memory_gb() > 0)
    gpus += fmt::format(", at least {} GB each", job.min_gpu_memory_gb());
  out += field("gpus", gpus + ")");
  out += field("priority", std::to_string(job.priority()));
  out += field("attempt", fmt::format("{} (max_restarts {})", job.attempt(), job.max_restarts()));
  if (job.array_id() != 0)
    out += field("array", fmt::format("job {}, index {}", job.array_id(), job.array_index()));
  out += field("submitted", when_text(job.submit_ms(), now_ms));
  out += field("started", when_text(job.start_ms(), now_ms));
  out += field("ended", when_text(job.end_ms(), now_ms));
  out += field("duration", job_time_text(job, now_ms));
  out += field("progress", progress_text(job.progress(), tty));
  out += field("figures", figures_text(job.progress()));
  out += field("updated", when_text(job.progress().updated_ms(), now_ms));
  out += field("output", job.output().empty() ? "-" : job.output());
  out += field("message", job.message().empty() ? "-" : job.message());
  if (job.ranks_size() > 0) out += "ranks:\n" + nested_table(rank_table(job.ranks()), max_width);
  if (!job.spec_yaml().empty()) out += "spec:\n" + indented(job.spec_yaml(), "  ");
  return out;
}

std::string dataset_details(const v1::Dataset& dataset, int64_t now_ms, size_t max_width) {
  std::string out = fmt::format("dataset {}\n", dataset.name());
  out += field("owner", dataset.owner());
  out += field("records", std::to_string(dataset.records()));
  out += field(
      "size", fmt::format("{} ({} bytes)", bytes_text(dataset.size_bytes()), dataset.size_bytes()));
  out += field("sha256", dataset.sha256());
  out += field("created", when_text(dataset.created_ms(), now_ms));
  out += field("shards", std::to_string(dataset.shards_size()));
  if (dataset.shards_size() > 0) out += nested_table(shard_table(dataset.shards()), max_width);
  return out;
}

Table job_table(const google::protobuf::RepeatedPtrField<v1::Job>& jobs, int64_t now_ms) {
  Table table({{"ID", Align::kRight},
               {"USER"},
               {"NAME", Align::kLeft, true},
               {"STATE"},
               {"GPUS", Align::kRight},
               {"STEP", Align::kRight},
               {"LOSS", Align::kRight},
               {"TOK/S", Align::kRight},
               {"AGE/DURATION", Align::kRight}});
  for (const auto& job : jobs)
    table.add_row({std::to_string(job.id()), job.user(), job.name(), state_text(job),
                   std::to_string(job.gpus()), step_text(job.progress()), loss_text(job.progress()),
                   rate_text(job.progress().tokens_per_second()), job_time_text(job, now_ms)});
  return table;
}

Table worker_table(const google::protobuf::RepeatedPtrField<v1::Worker>& workers, int64_t now_ms) {
  Table table({{"ID", Align::kLeft, true},
               {"STATE"},
               {"GPUS", Align::kLeft, true},
               {"BUSY", Align::kRight},
               {"LAST HEARTBEAT", Align::kRight}});
  for (const auto& worker : workers)
    table.add_row({worker.id(), worker_state_text(worker.state()), gpus_text(worker),
                   busy_text(worker), ago_text(worker.last_heartbeat_ms(), now_ms)});
  return table;
}

Table dataset_table(const google::protobuf::RepeatedPtrField<v1::Dataset>& datasets,
                    int64_t now_ms) {
  Table table({{"NAME", Align::kLeft, true},
               {"OWNER"},
               {"RECORDS", Align::kRight},
               {"SIZE", Align::kRight},
               {"SHARDS", Align::kRight},
               {"SHA256"},
               {"CREATED", Align::kRight}});
  for (const auto& dataset : datasets)
    table.add_row({dataset.name(), dataset.owner(), std::to_string(dataset.records()),
                   bytes_text(dataset.size_bytes()), std::to_string(dataset.shards_size()),
                   short_digest(dataset.sha256()), ago_text(dataset.created_ms(), now_ms)});
  return table;
}

Table rank_table(const google::protobuf::RepeatedPtrField<v1::Rank>& ranks) {
  Table table({{"RANK", Align::kRight},
               {"WORKER", Align::kLeft, true},
               {"SLOT", Align::kRight},
               {"GPU", Align::kLeft, true},
               {"STATE"},
               {"EXIT", Align::kRight}});
  for (const auto& rank : ranks)
    table.add_row({std::to_string(rank.rank()), rank.worker_id(), std::to_string(rank.slot()),
                   rank.gpu_name(), rank.state(),
                   rank.state() == "EXITED" ? std::to_string(rank.exit_code()) : "-"});
  return table;
}

Table shard_table(const google::protobuf::RepeatedPtrField<v1::ShardInfo>& shards) {
  Table table(
      {{"SHARD", Align::kRight}, {"RECORDS", Align::kRight}, {"SIZE", Align::kRight}, {"SHA256"}});
  for (const auto& shard : shards)
    table.add_row({std::to_string(shard.index()), std::to_string(shard.records()),
                   bytes_text(shard.size_bytes()), short_digest(shard.sha256())});
  return table;
}

}  // namespace gradpool::cli
