#include "coordinator/datasets/jsonl_sharder.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/sha256.h"
#include "coordinator/rpc_error.h"

namespace gradpool {
namespace {

enum class RecordFormat { kNone, kText, kPromptCompletion };

const char* describe(RecordFormat format) {
  return format == RecordFormat::kText ? "a \"text\" record" : "a \"prompt\"+\"completion\" record";
}

bool has_string(const nlohmann::json& record, const char* field) {
  const auto it = record.find(field);
  return it != record.end() && it->is_string();
}

bool has_format(const nlohmann::json& record, RecordFormat format) {
  switch (format) {
    case RecordFormat::kText:
      return has_string(record, "text");
    case RecordFormat::kPromptCompletion:
      return has_string(record, "prompt") && has_string(record, "completion");
    case RecordFormat::kNone:
      break;
  }
  return false;
}

RecordFormat format_of(const nlohmann::json& record) {
  for (const RecordFormat format : {RecordFormat::kText, RecordFormat::kPromptCompletion})
    if (has_format(record, format)) return format;
  return RecordFormat::kNone;
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; the rest says where and why.
std::string without_exception_id(const std::string& message) {
  const auto end = message.find("] ");
  return end == std::string::npos ? message : message.substr(end + 2);
}

// Blank lines (spaces, tabs, a '\r' line end) are skipped, as gradpool-train skips them.
bool is_blank(const std::string& line) {
  return line.find_first_not_of(" \t\r") == std::string::npos;
}

// One shard file being written: its bytes, records and hash.
class ShardWriter {
 public:
  ShardWriter(const std::string& dir, int index) : path_(dir + "/" + shard_file_name(index)) {
    info_.set_index(index);
    file_ = std::fopen(path_.c_str(), "wb");
    if (!file_)
      rpc_fail(grpc::StatusCode::INTERNAL, "{}: cannot create: {}", path_, std::strerror(errno));
  }
  ~ShardWriter() {
    if (file_) std::fclose(file_);
  }

  void add(const std::string& line) {
    if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
        std::fputc('\n', file_) == EOF)
      rpc_fail(grpc::StatusCode::INTERNAL, "{}: write failed: {}", path_, std::strerror(errno));
    hash_.update(line);
    hash_.update("\n");
    info_.set_records(info_.records() + 1);
    info_.set_size_bytes(info_.size_bytes() + static_cast<int64_t>(line.size()) + 1);
  }

  int64_t records() const { return info_.records(); }

  // Flushes to disk and returns what the shard holds.
  v1::ShardInfo close() {
    const bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!ok || !closed)
      rpc_fail(grpc::StatusCode::INTERNAL, "{}: write failed: {}", path_, std::strerror(errno));
    info_.set_sha256(hash_.hex_digest());
    return info_;
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  Sha256 hash_;
  v1::ShardInfo info_;
};

}  // namespace

std::string shard_file_name(int index) {
  return fmt::format("shard-{:05d}.jsonl", index);
}

ShardedJsonl shard_jsonl(const std::string& input_path, const std::string& shards_dir,
                         int64_t shard_records, const std::string& dataset_name) {
  std::ifstream in(input_path, std::ios::binary);
  if (!in)
    rpc_fail(grpc::StatusCode::INTERNAL, "{}: cannot open: {}", input_path, std::strerror(errno));
  ShardedJsonl result;
  std::unique_ptr<ShardWriter> shard;
  RecordFormat format = RecordFormat::kNone;
  int64_t format_line = 0;  // the line that set the format
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (is_blank(line)) continue;
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      fail("dataset '{}' line {}: not JSON: {}", dataset_name, number,
           without_exception_id(e.what()));
    }
    if (!record.is_object())
      fail("dataset '{}' line {}: expected a JSON object, got {}", dataset_name, number,
           record.type_name());
    if (format == RecordFormat::kNone) {
      format = format_of(record);
      format_line = number;
    }
    if (!has_format(record, format)) {
      const RecordFormat found = format_of(record);
      if (found == RecordFormat::kNone)
        fail("dataset '{}' line {}: expected a string field \"text\" or \"prompt\"+\"completion\"",
             dataset_name, number);
      fail("dataset '{}' line {}: {}, but line {} is {} (every line must have the same format)",
           dataset_name, number, describe(found), format_line, describe(format));
    }
    if (!shard)
      shard = std::make_unique<ShardWriter>(shards_dir, static_cast<int>(result.shards.size()));
    shard->add(line);
    ++result.records;
    if (shard->records() == shard_records) {
      result.shards.push_back(shard->close());
      shard.reset();
    }
  }
  if (in.bad())
    rpc_fail(grpc::StatusCode::INTERNAL, "{}: read failed: {}", input_path, std::strerror(errno));
  if (shard) result.shards.push_back(shard->close());
  if (result.records == 0)
    fail(
        "dataset '{}': no records (expected one JSON object with \"text\" or "
        "\"prompt\"+\"completion\" per line)",
        dataset_name);
  return result;
}

}  // namespace gradpool
