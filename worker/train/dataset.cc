#include "worker/train/dataset.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "worker/train/tokenizer.h"

namespace gradpool {
namespace {

// Reads field `name` of a record; `shape` shows the expected line for the message.
std::string string_field(const nlohmann::json& record, const char* name, const char* shape,
                         const std::string& path, int64_t line) {
  const auto it = record.find(name);
  if (it == record.end())
    fail("{}:{}: missing field \"{}\" (expected {})", path, line, name, shape);
  if (!it->is_string())
    fail("{}:{}: field \"{}\" must be a string, got {}", path, line, name, it->type_name());
  return it->get<std::string>();
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; the rest says where and why.
std::string without_exception_id(const std::string& message) {
  const auto end = message.find("] ");
  return end == std::string::npos ? message : message.substr(end + 2);
}

}  // namespace

void for_each_line(const std::string& path,
                   const std::function<void(int64_t, const std::string&)>& visit) {
  if (std::filesystem::is_directory(path)) fail("{}: is a directory, expected a file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    visit(++number, line);
  }
  if (in.bad()) fail("{}: read failed after line {}", path, number);
}

int64_t read_jsonl(const std::string& path, DataFormat format,
                   const std::function<void(const JsonlRecord&)>& visit) {
  const bool text = format == DataFormat::kText;
  const char* shape = text ? R"({"text": "..."})" : R"({"prompt": "...", "completion": "..."})";
  int64_t records = 0;
  JsonlRecord record;
  for_each_line(path, [&](int64_t line, const std::string& content) {
    if (content.find_first_not_of(" \t") == std::string::npos) return;
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(content);
    } catch (const nlohmann::json::parse_error& e) {
      fail("{}:{}: invalid JSON: {}", path, line, without_exception_id(e.what()));
    }
    if (!json.is_object())
      fail("{}:{}: expected a JSON object {}, got {}", path, line, shape, json.type_name());
    record.line = line;
    record.prompt = text ? std::string() : string_field(json, "prompt", shape, path, line);
    record.target = string_field(json, text ? "text" : "completion", shape, path, line);
    visit(record);
    ++records;
  });
  if (records == 0) fail("{}: empty dataset: no records (expected one {} per line)", path, shape);
  return records;
}

Dataset load_jsonl_dataset(const std::string& path, DataFormat format, const Tokenizer& tokenizer,
                           int64_t seq_len) {
  validate_seq_len(seq_len);
  const std::optional<int32_t> eos = tokenizer.eos_id();
  if (!eos)
    fail("{}: the tokenizer has no end-of-sequence token, which ends documents and pads samples",
         path);
  SampleBuilder builder(seq_len, *eos);
  int64_t first_skipped_line = 0;
  read_jsonl(path, format, [&](const JsonlRecord& record) {
    if (format == DataFormat::kText) {
      builder.add_text(tokenizer.encode(record.target, /*add_special_tokens=*/true));
    } else if (!builder.add_example(
                   tokenizer.encode(record.prompt, /*add_special_tokens=*/true),
                   tokenizer.encode(record.target, /*add_special_tokens=*/false)) &&
               first_skipped_line == 0) {
      first_skipped_line = record.line;
    }
  });
  Samples samples = builder.finish();
  const DatasetStats& stats = builder.stats();
  if (stats.skipped > 0)
    spdlog::warn("{}: skipped {} of {} examples whose prompt fills seq_len={} (first at line {})",
                 path, stats.skipped, stats.documents, seq_len, first_skipped_line);
  if (samples.size() == 0)
    fail("{}: no samples: every example's prompt fills seq_len={} (first at line {})", path,
         seq_len, first_skipped_line);
  return {std::move(samples), stats};
}

}  // namespace gradpool
