#include "cli/top_frame.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "cli/format.h"
#include "cli/table.h"

namespace gradpool::cli {
namespace {

using Jobs = std::vector<const v1::Job*>;

constexpr size_t kBarWidth = 10;
constexpr size_t kProgressColumn = 5;  // of the running jobs' table: the bars
constexpr size_t kUnlimited = std::numeric_limits<size_t>::max();
// The queue keeps at least a blank line, its header and one job when the running jobs would
// otherwise fill the screen.
constexpr size_t kMinQueuedLines = 3;

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t end = std::min(text.find('\n', begin), text.size());
    lines.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

std::string pool_line(const v1::ListWorkersResponse& workers) {
  struct GpuModel {
    std::string name;
    int busy = 0, total = 0;
  };
  std::vector<GpuModel> models;  // in order of first appearance
  int up = 0, lost = 0, busy = 0, total = 0;
  for (const auto& worker : workers.workers()) {
    if (worker.state() == v1::WORKER_LOST) ++lost;
    if (worker.state() != v1::WORKER_UP) continue;
    ++up;
    const std::set<int> busy_slots(worker.busy_slots().begin(), worker.busy_slots().end());
    for (const auto& gpu : worker.gpus()) {
      const std::string name = short_gpu_name(gpu.name());
      auto model = std::find_if(models.begin(), models.end(),
                                [&](const GpuModel& m) { return m.name == name; });
      if (model == models.end()) model = models.insert(models.end(), GpuModel{name});
      const int in_use = busy_slots.count(gpu.index()) > 0 ? 1 : 0;
      model->busy += in_use, busy += in_use;
      ++model->total, ++total;
    }
  }
  std::string line =
      fmt::format("workers: {} up, {} lost   gpus: {}/{} busy", up, lost, busy, total);
  for (size_t i = 0; i < models.size(); ++i)
    line += fmt::format("{}{}/{} {}", i == 0 ? " (" : ", ", models[i].busy, models[i].total,
                        models[i].name);
  return models.empty() ? line : line + ")";
}

std::string jobs_line(const Jobs& placed, const Jobs& queued) {
  const auto starting = std::count_if(placed.begin(), placed.end(), [](const v1::Job* job) {
    return job->state() == v1::JOB_STARTING;
  });
  return fmt::format("jobs: {} running, {} starting, {} queued",
                     placed.size() - static_cast<size_t>(starting), starting, queued.size());
}

std::string progress_cell(const v1::Job& job) {
  const v1::Progress& progress = job.progress();
  if (job.state() != v1::JOB_RUNNING || progress.total_steps() <= 0) return "";
  const double fraction =
      static_cast<double>(progress.step()) / static_cast<double>(progress.total_steps());
  return fmt::format("{} {:>3.0f}%", progress_bar(fraction, kBarWidth),
                     std::clamp(fraction, 0.0, 1.0) * 100);
}

std::string eta_cell(const v1::Job& job, const StepRates& rates) {
  if (job.state() != v1::JOB_RUNNING) return "-";
  const std::optional<int64_t> eta = eta_ms(job, rates.steps_per_second(job.id()));
  return eta ? duration_text(*eta) : "-";
}

Table running_table(const Jobs& jobs, const StepRates& rates, int64_t now_ms, bool with_bars) {
  std::vector<Column> columns = {{"ID", Align::kRight},         {"USER"},
                                 {"NAME", Align::kLeft, true},  {"GPUS", Align::kRight},
                                 {"STEP/TOTAL", Align::kRight}, {"PROGRESS"},
                                 {"LOSS", Align::kRight},       {"TOK/S", Align::kRight},
                                 {"ETA", Align::kRight},        {"RUNTIME", Align::kRight}};
  if (!with_bars) columns.erase(columns.begin() + kProgressColumn);
  Table table(columns);
  for (const v1::Job* job : jobs) {
    const bool starting = job->state() == v1::JOB_STARTING;
    std::vector<std::string> cells = {
        std::to_string(job->id()),
        job->user(),
        job->name(),
        std::to_string(job->gpus()),
        starting ? "starting" : step_text(job->progress()),
        progress_cell(*job),
        starting ? "-" : loss_text(job->progress()),
        starting ? "-" : rate_text(job->progress().tokens_per_second()),
        eta_cell(*job, rates),
        job_time_text(*job, now_ms)};
    if (!with_bars) cells.erase(cells.begin() + kProgressColumn);
    table.add_row(std::move(cells));
  }
  return table;
}

size_t natural_width(const Table& table) {
  size_t width = 0;
  for (const std::string& line : split_lines(table.render(0)))
    width = std::max(width, display_width(line));
  return width;
}

// The progress bars go first when the table is too wide: the step count says the same.
Table fitted_running_table(const Jobs& jobs, const StepRates& rates, int64_t now_ms, size_t width) {
  Table table = running_table(jobs, rates, now_ms, true);
  if (width == 0 || natural_width(table) <= width) return table;
  return running_table(jobs, rates, now_ms, false);
}

Table queued_table(const Jobs& jobs, int64_t now_ms) {
  Table table({{"QUEUED", Align::kRight},
               {"ID", Align::kRight},
               {"USER"},
               {"NAME", Align::kLeft, true},
               {"GPUS", Align::kRight},
               {"REASON"},
               {"WAITING", Align::kRight}});
  for (const v1::Job* job : jobs) {
    const std::string reason = reason_text(job->reason());
    table.add_row({job->queue_position() > 0 ? fmt::format("#{}", job->queue_position()) : "-",
                   std::to_string(job->id()), job->user(), job->name(), std::to_string(job->gpus()),
                   reason.empty() ? "-" : reason, job_time_text(*job, now_ms)});
  }
  return table;
}

// A blank line, then a table (or a line saying there is none).
struct Section {
  std::vector<std::string> lines;
  size_t rows = 0;   // table rows among `lines`
  std::string what;  // "running jobs", for the line that says how many were left out
};

Section table_section(const Table& table, size_t width, std::string what) {
  Section section{{""}, table.rows(), std::move(what)};
  for (std::string& line : split_lines(table.render(width))) section.lines.push_back(line);
  return section;
}

// Cuts the section to `max_lines`; its last line then says how many rows it left out.
std::vector<std::string> fit(Section section, size_t max_lines, size_t width) {
  if (section.lines.size() <= max_lines) return section.lines;
  if (section.rows == 0 || max_lines == 0) {
    section.lines.resize(max_lines);
    return section.lines;
  }
  const size_t kept = max_lines - 1;
  const size_t other_lines = section.lines.size() - section.rows;  // the blank line and header
  const size_t rows_shown = kept > other_lines ? kept - other_lines : 0;
  section.lines.resize(kept);
  const std::string more = fmt::format("… {} more {}", section.rows - rows_shown, section.what);
  section.lines.push_back(width > 0 ? truncate_to_width(more, width) : more);
  return section.lines;
}

}  // namespace

std::optional<int64_t> eta_ms(const v1::Job& job, std::optional<double> observed_steps_per_second) {
  const v1::Progress& progress = job.progress();
  if (progress.total_steps() <= 0 || progress.step() <= 0) return std::nullopt;
  const double remaining =
      static_cast<double>(std::max<int64_t>(progress.total_steps() - progress.step(), 0));
  if (job.attempt() <= 1 && progress.tokens() > 0 && progress.tokens_per_second() > 0) {
    const double tokens_per_step =
        static_cast<double>(progress.tokens()) / static_cast<double>(progress.step());
    return std::llround(remaining * tokens_per_step / progress.tokens_per_second() * 1000);
  }
  if (observed_steps_per_second && *observed_steps_per_second > 0)
    return std::llround(remaining / *observed_steps_per_second * 1000);
  return std::nullopt;
}

std::string top_frame(const TopSnapshot& snapshot, const StepRates& rates, FrameSize size,
                      int64_t now_ms) {
  Jobs placed, queued;
  for (const auto& job : snapshot.jobs.jobs()) {
    if (job.state() == v1::JOB_RUNNING || job.state() == v1::JOB_STARTING) placed.push_back(&job);
    if (job.state() == v1::JOB_QUEUED) queued.push_back(&job);
  }
  std::sort(placed.begin(), placed.end(),
            [](const v1::Job* a, const v1::Job* b) { return a->id() < b->id(); });
  // By position, the jobs without one (not scheduled yet) last.
  std::sort(queued.begin(), queued.end(), [](const v1::Job* a, const v1::Job* b) {
    const auto key = [](const v1::Job* job) {
      return std::make_pair(
          job->queue_position() > 0 ? job->queue_position() : std::numeric_limits<int32_t>::max(),
          job->id());
    };
    return key(a) < key(b);
  });

  std::vector<std::string> header = {
      fmt::format("gradpool top   coordinator {}   {}", snapshot.coordinator, time_text(now_ms)),
      pool_line(snapshot.workers), jobs_line(placed, queued)};
  if (!snapshot.problem.empty())
    header.push_back(snapshot.fetched_ms > 0
                         ? fmt::format("! {} (showing what was fetched {})", snapshot.problem,
                                       ago_text(snapshot.fetched_ms, now_ms))
                         : "! " + snapshot.problem);

  const Section running =
      placed.empty() ? Section{{"", "no jobs running"}, 0, ""}
                     : table_section(fitted_running_table(placed, rates, now_ms, size.width),
                                     size.width, "running jobs");
  const Section waiting =
      queued.empty() ? Section{}
                     : table_section(queued_table(queued, now_ms), size.width, "queued jobs");

  // Lines below the header: the running jobs come first, but the queue keeps a few lines.
  const size_t room = size.height == 0              ? kUnlimited
                      : size.height > header.size() ? size.height - header.size()
                                                    : 0;
  size_t waiting_lines = std::min(waiting.lines.size(), std::max(room / 3, kMinQueuedLines));
  const size_t running_lines = std::min(running.lines.size(), room - std::min(waiting_lines, room));
  waiting_lines = std::min(waiting.lines.size(), room - running_lines);

  std::vector<std::string> lines;
  for (const std::string& line : header)
    lines.push_back(size.width > 0 ? truncate_to_width(line, size.width) : line);
  for (const auto& part :
       {fit(running, running_lines, size.width), fit(waiting, waiting_lines, size.width)})
    lines.insert(lines.end(), part.begin(), part.end());
  if (size.height > 0 && lines.size() > size.height) lines.resize(size.height);

  std::string frame;
  for (const std::string& line : lines) frame += line + "\n";
  return frame;
}

}  // namespace gradpool::cli
