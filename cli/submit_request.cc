#include "cli/submit_request.h"

#include <yaml-cpp/yaml.h>

namespace gradpool::cli {
namespace {

namespace fs = std::filesystem;

// Job arrays expand "{index}" in name, output and seed on the coordinator. Validating here puts a
// number in its place (valid in a name and as a seed; the braces are not) and takes it out of the
// paths again.
constexpr const char* kIndexPlaceholder = "{index}";
constexpr const char* kIndexStandIn = "9876543210";

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size())
    text.replace(at, from.size(), to);
  return text;
}

std::string absolute_path(const std::string& path, const fs::path& cwd) {
  fs::path absolute = (cwd / path).lexically_normal();
  if (absolute.filename().empty()) absolute = absolute.parent_path();  // "dir/" → "dir"
  return absolute.string();
}

// "field=\"value\"": the value as a YAML double-quoted string, whatever characters it holds.
std::string path_override(const std::string& field, const std::string& path) {
  YAML::Emitter quoted;
  quoted << YAML::DoubleQuoted << path;
  return field + "=" + quoted.c_str();
}

bool output_given(const SubmitArgs& args) {
  for (const auto& override : args.overrides)
    if (override.rfind("output=", 0) == 0) return true;
  const YAML::Node root = YAML::Load(args.spec_text);
  return root.IsMap() && root["output"];
}

}  // namespace

bool dataset_is_path(const std::string& dataset, const fs::path& cwd) {
  if (dataset.find('/') != std::string::npos) return true;
  const std::string extension = ".jsonl";
  const bool jsonl =
      dataset.size() > extension.size() &&
      dataset.compare(dataset.size() - extension.size(), extension.size(), extension) == 0;
  std::error_code error;
  return jsonl && fs::exists(cwd / dataset, error);
}

PreparedSubmit prepare_submit(const SubmitArgs& args, const fs::path& cwd) {
  const bool array = args.array_size > 1;
  auto stand_in = [&](const std::string& text) {
    return array ? replace_all(text, kIndexPlaceholder, kIndexStandIn) : text;
  };
  std::vector<std::string> checked_overrides;
  for (const auto& override : args.overrides) checked_overrides.push_back(stand_in(override));
  PreparedSubmit prepared;
  prepared.spec = parse_job_spec(stand_in(args.spec_text), args.source_name, checked_overrides);
  JobSpec& spec = prepared.spec;

  v1::SubmitRequest& request = prepared.request;
  request.set_spec_yaml(args.spec_text);
  request.set_source_name(args.source_name);
  request.set_array_size(args.array_size);
  for (const auto& override : args.overrides) request.add_overrides(override);

  auto make_absolute = [&](const char* field, std::string& path) {
    if (fs::path(path).is_absolute()) return;
    path = absolute_path(path, cwd);
    const std::string sent = array ? replace_all(path, kIndexStandIn, kIndexPlaceholder) : path;
    request.add_overrides(path_override(field, sent));
  };
  make_absolute("model", spec.model);
  if (dataset_is_path(spec.dataset, cwd)) make_absolute("dataset", spec.dataset);
  if (args.absolute_default_output || output_given(args)) make_absolute("output", spec.output);
  return prepared;
}

}  // namespace gradpool::cli
