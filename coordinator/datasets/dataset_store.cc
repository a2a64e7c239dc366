#include "coordinator/datasets/dataset_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "coordinator/auth/names.h"
#include "coordinator/datasets/jsonl_sharder.h"
#include "coordinator/rpc_error.h"

namespace gradpool {
namespace fs = std::filesystem;
namespace {

constexpr const char* kColumns = "name, owner, sha256, size_bytes, records, shards, created_ms";
constexpr const char* kUploadDirPrefix = ".upload-";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string shards_to_json(const v1::Dataset& dataset) {
  nlohmann::json shards = nlohmann::json::array();
  for (const v1::ShardInfo& shard : dataset.shards())
    shards.push_back({{"index", shard.index()},
                      {"records", shard.records()},
                      {"size_bytes", shard.size_bytes()},
                      {"sha256", shard.sha256()}});
  return shards.dump();
}

// Reads the row the statement is on (columns as in kColumns).
v1::Dataset dataset_from_row(const Statement& row) {
  v1::Dataset dataset;
  dataset.set_name(row.column_text(0));
  dataset.set_owner(row.column_text(1));
  dataset.set_sha256(row.column_text(2));
  dataset.set_size_bytes(row.column_int(3));
  dataset.set_records(row.column_int(4));
  for (const auto& shard : nlohmann::json::parse(row.column_text(5))) {
    v1::ShardInfo* info = dataset.add_shards();
    info->set_index(shard.at("index").get<int>());
    info->set_records(shard.at("records").get<int64_t>());
    info->set_size_bytes(shard.at("size_bytes").get<int64_t>());
    info->set_sha256(shard.at("sha256").get<std::string>());
  }
  dataset.set_created_ms(row.column_int(6));
  return dataset;
}

// Makes the entries of `dir` (new files, a rename) durable before the row that points at them is
// committed.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0 || ::fsync(fd) != 0)
    rpc_fail(grpc::StatusCode::INTERNAL, "{}: cannot sync the directory", dir.string());
  ::close(fd);
}

}  // namespace

DatasetStore::DatasetStore(Database& db, std::string root_dir, DatasetLimits limits)
    : db_(db), root_(std::move(root_dir)), limits_(limits) {
  if (limits_.max_bytes <= 0) fail("--max-dataset-bytes must be > 0, got {}", limits_.max_bytes);
  if (limits_.shard_records <= 0)
    fail("--shard-records must be > 0, got {}", limits_.shard_records);
  std::error_code error;
  fs::create_directories(root_, error);
  if (error) fail("{}: cannot create the dataset directory: {}", root_.string(), error.message());
  db_.exec(
      "CREATE TABLE IF NOT EXISTS datasets ("
      "  name TEXT PRIMARY KEY,"
      "  owner TEXT NOT NULL,"
      "  sha256 TEXT NOT NULL,"  // of the whole upload; also its directory under root
      "  size_bytes INTEGER NOT NULL,"
      "  records INTEGER NOT NULL,"
      "  shards TEXT NOT NULL,"  // JSON: [{index, records, size_bytes, sha256}]
      "  created_ms INTEGER NOT NULL)");
  remove_leftovers();
}

void DatasetStore::remove_leftovers() {
  for (const auto& entry : fs::directory_iterator(root_)) {
    const std::string name = entry.path().filename().string();
    const bool stale_upload = name.rfind(kUploadDirPrefix, 0) == 0;
    const bool orphan = is_sha256_hex(name) && !find_version(name);
    if (!stale_upload && !orphan) continue;
    spdlog::info("datasets: removing {} (left by an interrupted upload or delete)",
                 entry.path().string());
    fs::remove_all(entry.path());
  }
}

std::optional<v1::Dataset> DatasetStore::find(const std::string& name) const {
  auto held = db_.lock();
  Statement select(db_, fmt::format("SELECT {} FROM datasets WHERE name = ?", kColumns));
  select.bind(1, name);
  if (!select.step()) return std::nullopt;
  return dataset_from_row(select);
}

std::optional<v1::Dataset> DatasetStore::find_version(const std::string& sha256) const {
  auto held = db_.lock();
  Statement select(db_, fmt::format("SELECT {} FROM datasets WHERE sha256 = ? LIMIT 1", kColumns));
  select.bind(1, sha256);
  if (!select.step()) return std::nullopt;
  return dataset_from_row(select);
}

std::vector<v1::Dataset> DatasetStore::list() const {
  auto held = db_.lock();
  Statement select(db_, fmt::format("SELECT {} FROM datasets ORDER BY name", kColumns));
  std::vector<v1::Dataset> datasets;
  while (select.step()) datasets.push_back(dataset_from_row(select));
  return datasets;
}

void DatasetStore::check_may_write(const v1::UploadHeader& header, const Caller& owner) const {
  const std::optional<v1::Dataset> existing = find(header.name());
  if (!existing) return;
  if (!header.replace())
    rpc_fail(grpc::StatusCode::ALREADY_EXISTS,
             "dataset '{}' already exists (owner {}); upload with replace to overwrite it",
             header.name(), existing->owner());
  if (!owner.is_admin() && owner.user != existing->owner())
    rpc_fail(grpc::StatusCode::PERMISSION_DENIED,
             "dataset '{}' belongs to {}; only its owner or an admin may replace it", header.name(),
             existing->owner());
}

v1::Dataset DatasetStore::commit(const v1::UploadHeader& header, const Caller& owner,
                                 v1::Dataset dataset, const fs::path& shards_dir) {
  std::lock_guard held(commit_mutex_);
  check_may_write(header, owner);  // again: another upload of the name may have committed since
  dataset.set_name(header.name());
  dataset.set_owner(owner.user);
  dataset.set_created_ms(now_ms());
  const fs::path target = sha_dir(dataset.sha256());
  const std::optional<v1::Dataset> previous = find(header.name());
  bool placed = false;
  try {
    if (const std::optional<v1::Dataset> same_content = find_version(dataset.sha256())) {
      // Its directory holds these bytes already, sharded as its row says.
      *dataset.mutable_shards() = same_content->shards();
    } else {
      sync_directory(shards_dir);
      fs::remove_all(target);  // an orphan of an interrupted commit
      fs::rename(shards_dir, target);
      placed = true;
      sync_directory(root_);
    }
    db_.transaction([&] {
      Statement(db_, "DELETE FROM datasets WHERE name = ?").bind(1, header.name()).run();
      Statement insert(
          db_, fmt::format("INSERT INTO datasets ({}) VALUES (?, ?, ?, ?, ?, ?, ?)", kColumns));
      insert.bind(1, dataset.name())
          .bind(2, dataset.owner())
          .bind(3, dataset.sha256())
          .bind(4, dataset.size_bytes())
          .bind(5, dataset.records())
          .bind(6, shards_to_json(dataset))
          .bind(7, dataset.created_ms())
          .run();
    });
  } catch (...) {
    std::error_code ignored;
    if (placed) fs::remove_all(target, ignored);
    throw;
  }
  if (previous) remove_if_unreferenced(previous->sha256());
  return dataset;
}

v1::Dataset DatasetStore::remove(const std::string& name, const Caller& caller) {
  std::lock_guard held(commit_mutex_);
  const std::optional<v1::Dataset> dataset = find(name);
  if (!dataset) rpc_fail(grpc::StatusCode::NOT_FOUND, "dataset '{}': no such dataset", name);
  if (!caller.is_admin() && caller.user != dataset->owner())
    rpc_fail(grpc::StatusCode::PERMISSION_DENIED,
             "dataset '{}' belongs to {}; only its owner or an admin may delete it", name,
             dataset->owner());
  db_.transaction(
      [&] { Statement(db_, "DELETE FROM datasets WHERE name = ?").bind(1, name).run(); });
  remove_if_unreferenced(dataset->sha256());
  return *dataset;
}

std::string DatasetStore::shard_path(const std::string& name, const std::string& sha256,
                                     int index) const {
  const std::optional<v1::Dataset> dataset = find(name);
  if (!dataset) rpc_fail(grpc::StatusCode::NOT_FOUND, "dataset '{}': no such dataset", name);
  if (dataset->sha256() != sha256)
    rpc_fail(grpc::StatusCode::NOT_FOUND, "dataset '{}': no version {} (the current one is {})",
             name, sha256, dataset->sha256());
  if (index < 0 || index >= dataset->shards_size())
    rpc_fail(grpc::StatusCode::NOT_FOUND, "dataset '{}': no shard {} (it has {})", name, index,
             dataset->shards_size());
  return (sha_dir(sha256) / shard_file_name(index)).string();
}

fs::path DatasetStore::new_upload_dir() {
  std::lock_guard held(commit_mutex_);
  fs::path dir;
  do {
    dir = root_ / (kUploadDirPrefix + std::to_string(next_upload_++));
  } while (!fs::create_directory(dir));
  return dir;
}

fs::path DatasetStore::sha_dir(const std::string& sha256) const {
  return root_ / sha256;
}

void DatasetStore::remove_if_unreferenced(const std::string& sha256) {
  if (find_version(sha256)) return;
  std::error_code error;
  fs::remove_all(sha_dir(sha256), error);
  // The row is gone already; a directory left behind is removed at the next start.
  if (error)
    spdlog::warn("datasets: cannot remove {}: {}", sha_dir(sha256).string(), error.message());
}

}  // namespace gradpool
