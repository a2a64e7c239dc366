#include "worker/daemon/shard_cache.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/file_util.h"
#include "common/sha256.h"

namespace gradpool {
namespace fs = std::filesystem;
namespace {

constexpr int kFetchAttempts = 5;  // a coordinator restarting (UNAVAILABLE) gets this many tries

bool is_sha256_hex(const std::string& text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Generous: a minute, plus a second per MiB.
std::chrono::milliseconds fetch_timeout(int64_t size_bytes) {
  return std::chrono::milliseconds(60'000 + size_bytes / 1024);
}

std::string shard_name(const v1::Dataset& dataset, const v1::ShardInfo& shard) {
  return fmt::format("dataset '{}' shard {}", dataset.name(), shard.index());
}

// A temporary name beside `path`, unique across threads and worker processes.
std::string temporary_path(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}.part-{}-{}", path, ::getpid(), counter++);
}

}  // namespace

ShardCache::ShardCache(std::string root, std::shared_ptr<grpc::Channel> channel, Endpoint endpoint)
    : root_(std::move(root)),
      stub_(v1::Datasets::NewStub(std::move(channel))),
      endpoint_(std::move(endpoint)) {}

std::shared_ptr<std::mutex> ShardCache::dataset_mutex(const std::string& sha256) {
  std::lock_guard<std::mutex> lock(mutexes_mutex_);
  auto& mutex = dataset_mutexes_[sha256];
  if (!mutex) mutex = std::make_shared<std::mutex>();
  return mutex;
}

std::string ShardCache::dataset_file(const v1::Dataset& dataset) {
  if (!is_sha256_hex(dataset.sha256()))
    fail("dataset '{}': sha256 '{}' is not 64 lowercase hex digits", dataset.name(),
         dataset.sha256());
  std::vector<v1::ShardInfo> shards(dataset.shards().begin(), dataset.shards().end());
  std::sort(shards.begin(), shards.end(),
            [](const auto& a, const auto& b) { return a.index() < b.index(); });
  if (shards.empty()) fail("dataset '{}': the assignment lists no shards", dataset.name());
  for (size_t i = 0; i < shards.size(); ++i) {
    if (shards[i].index() != static_cast<int>(i))
      fail("dataset '{}': shard indexes must be 0..{}, found {}", dataset.name(), shards.size() - 1,
           shards[i].index());
    if (!is_sha256_hex(shards[i].sha256()))
      fail("{}: sha256 '{}' is not 64 lowercase hex digits", shard_name(dataset, shards[i]),
           shards[i].sha256());
    if (shards[i].size_bytes() < 0)
      fail("{}: size_bytes {} is negative", shard_name(dataset, shards[i]), shards[i].size_bytes());
  }

  const std::string dir = (fs::path(root_) / dataset.sha256()).string();
  const std::string joined = dir + "/dataset.jsonl";
  const auto mutex = dataset_mutex(dataset.sha256());
  std::lock_guard<std::mutex> lock(*mutex);
  // Written only once every shard was verified, and atomically: present means complete.
  if (fs::exists(joined)) return joined;
  fs::create_directories(dir);
  std::vector<std::string> paths;
  for (const v1::ShardInfo& shard : shards) paths.push_back(ensure_shard(dataset, shard, dir));
  write_file_atomic(joined, [&](std::FILE* out) {
    for (const std::string& path : paths) {
      std::ifstream in(path, std::ios::binary);
      std::array<char, 1 << 16> buffer;
      while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0)
        if (std::fwrite(buffer.data(), 1, in.gcount(), out) != static_cast<size_t>(in.gcount()))
          fail("{}: write failed", joined);
      if (in.bad()) fail("{}: read failed", path);
    }
  });
  spdlog::info("dataset '{}' ({} shards) cached in {}", dataset.name(), shards.size(), dir);
  return joined;
}

std::string ShardCache::ensure_shard(const v1::Dataset& dataset, const v1::ShardInfo& shard,
                                     const std::string& dir) {
  const std::string path = fmt::format("{}/shard-{:05d}.jsonl", dir, shard.index());
  if (fs::exists(path)) {
    if (sha256_file(path) == shard.sha256()) return path;
    spdlog::warn("{}: cached {} does not match its sha256; fetching it again",
                 shard_name(dataset, shard), path);
    fs::remove(path);
  }
  fetch_shard(dataset, shard, path);
  return path;
}

void ShardCache::fetch_shard(const v1::Dataset& dataset, const v1::ShardInfo& shard,
                             const std::string& path) {
  const std::string what = shard_name(dataset, shard);
  v1::FetchShardRequest request;
  request.set_dataset(dataset.name());
  request.set_sha256(dataset.sha256());
  request.set_index(shard.index());
  for (int attempt = 1;; ++attempt) {
    const std::string temporary = temporary_path(path);
    std::FILE* out = std::fopen(temporary.c_str(), "wb");
    if (!out) fail("{}: cannot write {}: {}", what, temporary, std::strerror(errno));
    Sha256 hash;
    int64_t received = 0;
    bool too_long = false, write_failed = false;
    const auto context = make_context(endpoint_, fetch_timeout(shard.size_bytes()).count());
    const auto reader = stub_->FetchShard(context.get(), request);
    v1::ShardChunk chunk;
    while (reader->Read(&chunk)) {
      received += static_cast<int64_t>(chunk.data().size());
      if (received > shard.size_bytes()) {
        too_long = true;
        context->TryCancel();
        break;
      }
      hash.update(chunk.data());
      write_failed |=
          std::fwrite(chunk.data().data(), 1, chunk.data().size(), out) != chunk.data().size();
    }
    const grpc::Status status = reader->Finish();
    write_failed |= std::fflush(out) != 0 || ::fsync(::fileno(out)) != 0;
    std::fclose(out);
    const std::string digest = hash.hex_digest();
    const bool valid = !too_long && !write_failed && status.ok() &&
                       received == shard.size_bytes() && digest == shard.sha256();
    if (valid) {
      fs::rename(temporary, path);
      return;
    }
    fs::remove(temporary);
    if (too_long)
      fail("{}: the coordinator sent more than the {} bytes announced; not cached", what,
           shard.size_bytes());
    if (write_failed) fail("{}: writing {} failed (disk full?)", what, temporary);
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE && attempt < kFetchAttempts) {
      spdlog::warn("{}: fetch failed ({}); retrying", what, describe(status));
      std::this_thread::sleep_for(std::chrono::seconds(1 << attempt));
      continue;
    }
    if (!status.ok()) fail("{}: fetch failed: {}", what, describe(status));
    if (received != shard.size_bytes())
      fail("{}: received {} bytes, the dataset says {}; not cached", what, received,
           shard.size_bytes());
    fail("{}: sha256 mismatch: received {}, the dataset says {}; not cached", what, digest,
         shard.sha256());
  }
}

}  // namespace gradpool
