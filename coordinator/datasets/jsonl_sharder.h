// Checks an uploaded JSON Lines file and splits it into shard files, in one streaming pass.
//
// Every non-blank line must be a JSON object with a string "text", or strings "prompt" and
// "completion" (the same format on every line), as gradpool-train reads them. A shard holds
// `shard_records` records as byte-exact copies of their lines, each ending in '\n', so that the
// shards concatenated in order give back the upload's records.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proto/gradpool.pb.h"

namespace gradpool {

struct ShardedJsonl {
  int64_t records = 0;
  std::vector<v1::ShardInfo> shards;
};

// Reads `input_path` and writes shard-00000.jsonl, shard-00001.jsonl, ... (fsync'ed) into the
// existing directory `shards_dir`. Errors (Error, INVALID_ARGUMENT) name the dataset and the line:
// "dataset 'x' line 17: not JSON: ...". On error the shards written so far stay in `shards_dir`;
// the caller owns and removes it.
ShardedJsonl shard_jsonl(const std::string& input_path, const std::string& shards_dir,
                         int64_t shard_records, const std::string& dataset_name);

// "shard-00042.jsonl"
std::string shard_file_name(int index);

}  // namespace gradpool
