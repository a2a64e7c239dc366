// Dataset uploads: `gradpool datasets add NAME FILE` streams the file to Datasets.Upload.
//
// The file is read twice: once for its size and SHA-256, which go in the header (the first
// message), so that the coordinator can refuse a wrong upload before storing it; then in chunks of
// `chunk_bytes`, in order. The coordinator checks both against what arrived.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "cli/client.h"
#include "proto/gradpool.pb.h"

namespace gradpool::cli {

constexpr size_t kUploadChunkBytes = 1 << 20;

struct UploadOptions {
  std::string name;  // the dataset's name on the coordinator
  std::string path;  // the local .jsonl file
  bool replace = false;
  size_t chunk_bytes = kUploadChunkBytes;
};

// Called after each chunk is sent, and once with 0 before the first.
using UploadProgress = std::function<void(int64_t sent_bytes, int64_t total_bytes)>;

// Uploads and returns the stored dataset (records, shards). Error naming the file when it cannot
// be read or changes while it is sent; Error from client.check() when the coordinator refuses.
v1::Dataset upload_dataset(Client& client, const UploadOptions& options,
                           const UploadProgress& progress = {});

}  // namespace gradpool::cli
