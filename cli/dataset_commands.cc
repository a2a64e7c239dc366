// gradpool datasets list | add NAME FILE [--replace] | rm NAME | show NAME
#include <chrono>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/format.h"
#include "cli/terminal.h"
#include "cli/upload.h"
#include "cli/views.h"

namespace gradpool::cli {
namespace {

// The upload's progress on one terminal line: bytes, percent and rate, redrawn at most every
// 100 ms.
class UploadMeter {
 public:
  explicit UploadMeter(std::string label) : label_(std::move(label)) {}

  void update(int64_t sent, int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (sent != 0 && sent != total && now - drawn_ < std::chrono::milliseconds(100)) return;
    drawn_ = now;
    const double seconds = std::chrono::duration<double>(now - started_).count();
    const double fraction = total > 0 ? static_cast<double>(sent) / static_cast<double>(total) : 1;
    const std::string rate =
        seconds > 0 ? fmt::format("{:.1f} MB/s", static_cast<double>(sent) / 1e6 / seconds) : "";
    std::printf("\r%s %s %s / %s %3.0f%%  %s\033[K", label_.c_str(),
                progress_bar(fraction, 20).c_str(), bytes_text(sent).c_str(),
                bytes_text(total).c_str(), fraction * 100, rate.c_str());
    if (sent == total) std::printf("\n");
    std::fflush(stdout);
  }

 private:
  std::string label_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point drawn_;
};

v1::DatasetRef ref(const std::string& name) {
  v1::DatasetRef ref;
  ref.set_name(name);
  return ref;
}

int list(const GlobalOptions& global) {
  Client client(global);
  v1::ListDatasetsResponse response;
  client.check(
      client.datasets().List(client.context().get(), v1::ListDatasetsRequest(), &response));
  print_table(dataset_table(response.datasets(), now_ms()));
  return 0;
}

int add(const GlobalOptions& global, const UploadOptions& options) {
  Client client(global);
  UploadProgress progress;
  auto meter = std::make_shared<UploadMeter>("uploading " + options.name);
  if (stdout_is_tty())
    progress = [meter](int64_t sent, int64_t total) { meter->update(sent, total); };
  const v1::Dataset dataset = upload_dataset(client, options, progress);
  std::printf("added dataset %s: %lld records in %d shards (%s, sha256 %s)\n",
              dataset.name().c_str(), static_cast<long long>(dataset.records()),
              dataset.shards_size(), bytes_text(dataset.size_bytes()).c_str(),
              dataset.sha256().c_str());
  return 0;
}

int remove(const GlobalOptions& global, const std::string& name) {
  Client client(global);
  v1::Dataset dataset;
  client.check(client.datasets().Delete(client.context().get(), ref(name), &dataset));
  std::printf("removed dataset %s\n",
              dataset.name().empty() ? name.c_str() : dataset.name().c_str());
  return 0;
}

int show(const GlobalOptions& global, const std::string& name) {
  Client client(global);
  v1::Dataset dataset;
  client.check(client.datasets().Get(client.context().get(), ref(name), &dataset));
  std::fputs(dataset_details(dataset, now_ms(), output_width()).c_str(), stdout);
  return 0;
}

}  // namespace

void add_dataset_commands(CLI::App& app, const GlobalOptions& global, Commands& commands) {
  auto* datasets = app.add_subcommand("datasets", "registered datasets: list, add, rm, show");
  datasets->require_subcommand(1);

  auto* list_cmd = datasets->add_subcommand("list", "list the registered datasets");
  commands.push_back({list_cmd, "datasets list", [&global] { return list(global); }});

  auto upload = std::make_shared<UploadOptions>();
  auto* add_cmd = datasets->add_subcommand("add", "upload a .jsonl file as a dataset");
  add_cmd->add_option("name", upload->name, "dataset name ([A-Za-z0-9._-], at most 64)")
      ->required();
  add_cmd->add_option("file", upload->path, "the .jsonl file")
      ->required()
      ->check(CLI::ExistingFile);
  add_cmd->add_flag("--replace", upload->replace, "replace a dataset of the same name");
  commands.push_back({add_cmd, "datasets add", [&global, upload] { return add(global, *upload); }});

  auto rm_name = std::make_shared<std::string>();
  auto* rm_cmd = datasets->add_subcommand("rm", "delete a dataset (refused while a job uses it)");
  rm_cmd->add_option("name", *rm_name, "dataset name")->required();
  commands.push_back(
      {rm_cmd, "datasets rm", [&global, rm_name] { return remove(global, *rm_name); }});

  auto show_name = std::make_shared<std::string>();
  auto* show_cmd = datasets->add_subcommand("show", "show a dataset and its shards");
  show_cmd->add_option("name", *show_name, "dataset name")->required();
  commands.push_back(
      {show_cmd, "datasets show", [&global, show_name] { return show(global, *show_name); }});
}

}  // namespace gradpool::cli
