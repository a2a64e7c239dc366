// DatasetStore::begin_upload and the upload it returns: header checks, then the bytes streamed
// into <root>/.upload-N/upload.jsonl and hashed as they arrive, then sharding and the commit.
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/error.h"
#include "common/sha256.h"
#include "coordinator/auth/names.h"
#include "coordinator/datasets/dataset_store.h"
#include "coordinator/datasets/jsonl_sharder.h"
#include "coordinator/rpc_error.h"

namespace gradpool {
namespace fs = std::filesystem;
namespace {

// Checksums made by other tools may be upper case.
std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

class DatasetStore::StreamingUpload final : public DatasetStore::Upload {
 public:
  StreamingUpload(DatasetStore& store, v1::UploadHeader header, Caller owner)
      : store_(store),
        header_(std::move(header)),
        owner_(std::move(owner)),
        dir_(store_.new_upload_dir()),
        data_path_((dir_ / "upload.jsonl").string()) {
    file_ = std::fopen(data_path_.c_str(), "wb");
    if (!file_) {
      remove_dir();
      rpc_fail(grpc::StatusCode::INTERNAL, "{}: cannot create: {}", data_path_,
               std::strerror(errno));
    }
  }

  ~StreamingUpload() override {
    if (file_) std::fclose(file_);
    remove_dir();
  }

  void append(std::string_view bytes) override {
    if (!file_) rpc_fail(grpc::StatusCode::FAILED_PRECONDITION, "{}: finished already", what());
    if (static_cast<int64_t>(bytes.size()) > header_.size_bytes() - received_)
      rpc_fail(grpc::StatusCode::RESOURCE_EXHAUSTED, "{}: more than the announced {} bytes arrived",
               what(), header_.size_bytes());
    if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size())
      rpc_fail(grpc::StatusCode::INTERNAL, "{}: writing {} failed: {}", what(), data_path_,
               std::strerror(errno));
    hash_.update(bytes);
    received_ += static_cast<int64_t>(bytes.size());
  }

  v1::Dataset finish() override {
    if (!file_) rpc_fail(grpc::StatusCode::FAILED_PRECONDITION, "{}: finished already", what());
    if (received_ < header_.size_bytes())
      fail("{}: only {} of the announced {} bytes arrived", what(), received_,
           header_.size_bytes());
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!closed)
      rpc_fail(grpc::StatusCode::INTERNAL, "{}: writing {} failed: {}", what(), data_path_,
               std::strerror(errno));
    const std::string sha256 = hash_.hex_digest();
    if (!header_.sha256().empty() && lowercase(header_.sha256()) != sha256)
      fail("{}: sha256 mismatch: the header says {}, the {} bytes received hash to {}", what(),
           header_.sha256(), received_, sha256);

    const fs::path shards_dir = dir_ / "shards";
    fs::create_directory(shards_dir);
    const ShardedJsonl content =
        shard_jsonl(data_path_, shards_dir.string(), store_.limits_.shard_records, header_.name());
    v1::Dataset dataset;
    dataset.set_size_bytes(received_);
    dataset.set_records(content.records);
    dataset.set_sha256(sha256);
    for (const v1::ShardInfo& shard : content.shards) *dataset.add_shards() = shard;
    dataset = store_.commit(header_, owner_, std::move(dataset), shards_dir);
    remove_dir();  // the received copy; the shards are in place
    return dataset;
  }

 private:
  std::string what() const { return "dataset '" + header_.name() + "'"; }

  void remove_dir() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  DatasetStore& store_;
  const v1::UploadHeader header_;
  const Caller owner_;
  const fs::path dir_;  // removed with everything in it when the upload ends, committed or not
  const std::string data_path_;
  std::FILE* file_ = nullptr;
  Sha256 hash_;
  int64_t received_ = 0;
};

std::unique_ptr<DatasetStore::Upload> DatasetStore::begin_upload(const v1::UploadHeader& header,
                                                                 const Caller& owner) {
  if (!is_valid_name(header.name()))
    fail("dataset name '{}': expected 1 to 64 characters of A-Z a-z 0-9 . _ -", header.name());
  const std::string what = "dataset '" + header.name() + "'";
  if (header.size_bytes() <= 0)
    fail("{}: size_bytes must be > 0, got {}", what, header.size_bytes());
  if (header.size_bytes() > limits_.max_bytes)
    rpc_fail(grpc::StatusCode::RESOURCE_EXHAUSTED,
             "{}: {} bytes exceeds the limit of {} (--max-dataset-bytes)", what,
             header.size_bytes(), limits_.max_bytes);
  if (!header.sha256().empty() && !is_sha256_hex(lowercase(header.sha256())))
    fail("{}: sha256 must be 64 hex digits, got '{}'", what, header.sha256());
  check_may_write(header, owner);  // fail before any data is sent, not after
  return std::make_unique<StreamingUpload>(*this, header, owner);
}

}  // namespace gradpool
