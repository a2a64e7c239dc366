// In-test stand-ins for the coordinator's services that the worker side calls, each implementing
// only what the tests need, served on 127.0.0.1 with a kernel-picked port.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/sha256.h"
#include "proto/channel.h"
#include "proto/gradpool.grpc.pb.h"

namespace gradpool::testing {

// Serves `services` until destroyed; `port` 0 picks a free one.
class TestServer {
 public:
  explicit TestServer(const std::vector<grpc::Service*>& services, int port = 0) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                             &port_);
    for (grpc::Service* service : services) builder.RegisterService(service);
    server_ = builder.BuildAndStart();
  }
  ~TestServer() { server_->Shutdown(std::chrono::system_clock::now()); }
  bool ok() const { return server_ && port_ > 0; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// Datasets.FetchShard over shards held in memory, for the bearer token `token`. `corrupt` flips
// one byte of everything it sends (the ShardInfo still describes the good bytes).
class ShardServer : public v1::Datasets::Service {
 public:
  static constexpr const char* kToken = "worker-token";

  explicit ShardServer(std::vector<std::string> shards) : shards_(std::move(shards)) {}

  // The registered dataset these shards make, as an assignment carries it.
  v1::Dataset dataset(const std::string& name) const {
    v1::Dataset dataset;
    dataset.set_name(name);
    std::string whole;
    for (size_t i = 0; i < shards_.size(); ++i) {
      v1::ShardInfo* info = dataset.add_shards();
      info->set_index(static_cast<int>(i));
      info->set_size_bytes(static_cast<int64_t>(shards_[i].size()));
      info->set_sha256(sha256_hex(shards_[i]));
      whole += shards_[i];
    }
    dataset.set_sha256(sha256_hex(whole));
    dataset.set_size_bytes(static_cast<int64_t>(whole.size()));
    return dataset;
  }

  grpc::Status FetchShard(grpc::ServerContext* context, const v1::FetchShardRequest* request,
                          grpc::ServerWriter<v1::ShardChunk>* writer) override {
    if (bearer_token(*context) != kToken)
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad token");
    if (request->index() < 0 || request->index() >= static_cast<int>(shards_.size()))
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such shard");
    ++fetches;
    std::string bytes = shards_[request->index()];
    if (corrupt && !bytes.empty()) bytes[bytes.size() / 2] ^= 0x20;
    for (size_t at = 0; at < bytes.size(); at += 100) {  // several chunks per shard
      v1::ShardChunk chunk;
      chunk.set_data(bytes.substr(at, 100));
      writer->Write(chunk);
    }
    return grpc::Status::OK;
  }

  std::atomic<int> fetches{0};
  std::atomic<bool> corrupt{false};

 private:
  std::vector<std::string> shards_;
};

// The worker-side Endpoint for a TestServer.
inline Endpoint endpoint_of(const TestServer& server, const std::string& token) {
  Endpoint endpoint;
  endpoint.address = server.address();
  endpoint.token = token;
  return endpoint;
}

}  // namespace gradpool::testing
