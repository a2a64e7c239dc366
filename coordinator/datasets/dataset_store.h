// DatasetStore: the registered datasets. Each one is a row of the `datasets` table (name, owner,
// sha256, size, records, shards as JSON, created_ms) plus its shard files under
// <root>/<sha256>/shard-NNNNN.jsonl. Uploads stream into a temporary directory inside root
// (<root>/.upload-*), are hashed while they arrive, then checked and sharded; the shard directory
// is renamed into place and the row committed last, so a dataset is visible only once complete and
// a failed upload leaves nothing behind. Datasets with the same content share one sha directory,
// which is deleted once no row references it.
//
// Errors are RpcError (or Error, for bad content) with messages that name the dataset.
// One DatasetStore per data directory, in the serving process only: it removes what it takes for
// leftovers when it starts. Thread safety: any thread; uploads run concurrently, their commits are
// serialised. Do not call it while holding the Database lock (commits take their own mutex first).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/auth/token_store.h"
#include "coordinator/store/database.h"
#include "proto/gradpool.pb.h"

namespace gradpool {

struct DatasetLimits {
  int64_t max_bytes = int64_t{1} << 30;  // per upload (--max-dataset-bytes)
  int64_t shard_records = 10000;         // records per shard (--shard-records)
};

class DatasetStore {
 public:
  // Creates root and the table if missing, and removes what a crash may have left: temporary
  // upload directories and sha directories no row references.
  DatasetStore(Database& db, std::string root_dir, DatasetLimits limits);

  // One streamed upload; destroying it unfinished removes its temporary files.
  class Upload {
   public:
    virtual ~Upload() = default;
    // RESOURCE_EXHAUSTED once more bytes arrive than the header announced.
    virtual void append(std::string_view bytes) = 0;
    // Checks size, sha256 and content, shards, commits; returns the registered dataset.
    virtual v1::Dataset finish() = 0;
  };

  // Checks the header (name, size against the limit, sha256 syntax, name taken / replace rights)
  // before any data is accepted.
  std::unique_ptr<Upload> begin_upload(const v1::UploadHeader& header, const Caller& owner);

  std::optional<v1::Dataset> find(const std::string& name) const;
  std::vector<v1::Dataset> list() const;  // by name
  // Owner or admin; NOT_FOUND / PERMISSION_DENIED otherwise. Returns what was removed.
  v1::Dataset remove(const std::string& name, const Caller& caller);
  // Path of one shard of a dataset version; NOT_FOUND when name/sha/index do not exist.
  std::string shard_path(const std::string& name, const std::string& sha256, int index) const;

  const DatasetLimits& limits() const { return limits_; }

 private:
  class StreamingUpload;

  // ALREADY_EXISTS / PERMISSION_DENIED when `header` may not (re)write its name.
  void check_may_write(const v1::UploadHeader& header, const Caller& owner) const;
  // Moves `shards_dir` into place as <root>/<sha256> (or reuses the directory of a dataset with
  // the same content) and commits the row for `dataset`, replacing a previous version.
  v1::Dataset commit(const v1::UploadHeader& header, const Caller& owner, v1::Dataset dataset,
                     const std::filesystem::path& shards_dir);
  std::filesystem::path new_upload_dir();
  std::filesystem::path sha_dir(const std::string& sha256) const;
  std::optional<v1::Dataset> find_version(const std::string& sha256) const;  // any row with it
  void remove_if_unreferenced(const std::string& sha256);
  void remove_leftovers();

  Database& db_;
  std::filesystem::path root_;
  DatasetLimits limits_;
  std::mutex commit_mutex_;  // serialises commits and removals (rows and sha directories)
  int64_t next_upload_ = 0;  // guarded by commit_mutex_
};

}  // namespace gradpool
