// ShardCache: registered datasets on this worker's disk. Shards come from the coordinator
// (Datasets.FetchShard), are streamed into a temporary file and checked against their SHA-256
// before they are renamed into <root>/<dataset sha256>/shard-NNNNN.jsonl — a shard that does not
// match is an error and never lands in the cache. Valid shards are reused by later jobs; the
// shards concatenated in order become dataset.jsonl beside them (written atomically), the file
// gradpool-train reads. Thread-safe: ranks preparing the same dataset wait for one another.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "proto/channel.h"
#include "proto/gradpool.grpc.pb.h"

namespace gradpool {

class ShardCache {
 public:
  // `endpoint` gives the token that FetchShard calls carry; `channel` is how to reach it.
  ShardCache(std::string root, std::shared_ptr<grpc::Channel> channel, Endpoint endpoint);

  // The path of `dataset`'s dataset.jsonl, fetching and verifying what is missing. Error naming
  // the dataset and the shard when the description is malformed, a fetch fails, or a shard's bytes
  // do not match its size or SHA-256.
  std::string dataset_file(const v1::Dataset& dataset);

 private:
  // <dir>/shard-NNNNN.jsonl, valid: the cached file if it matches, else a fresh fetch.
  std::string ensure_shard(const v1::Dataset& dataset, const v1::ShardInfo& shard,
                           const std::string& dir);
  void fetch_shard(const v1::Dataset& dataset, const v1::ShardInfo& shard, const std::string& path);
  std::shared_ptr<std::mutex> dataset_mutex(const std::string& sha256);

  std::string root_;
  std::unique_ptr<v1::Datasets::Stub> stub_;
  Endpoint endpoint_;
  std::mutex mutexes_mutex_;
  std::map<std::string, std::shared_ptr<std::mutex>> dataset_mutexes_;  // by dataset sha256
};

}  // namespace gradpool
