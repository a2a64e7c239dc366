// How gradpool processes reach each other over gRPC: one place that decides TLS vs. plaintext,
// message size limits and how the bearer token travels, so the CLI, the worker daemon, the ranks
// and the tests all dial the coordinator the same way.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

namespace gradpool {

// Largest single gRPC message any gradpool process accepts (uploads and shards are chunked well
// below it).
constexpr int kMaxRpcMessageBytes = 16 << 20;

// Where and how to reach the coordinator.
struct Endpoint {
  std::string address = "127.0.0.1:7070";  // host:port
  std::string token;                       // bearer token sent with every call
  std::string ca_cert_file;                // PEM; non-empty switches to TLS
};

// A channel to `endpoint.address`, TLS when a CA certificate is given. Throws Error naming the
// file when the certificate cannot be read.
std::shared_ptr<grpc::Channel> open_channel(const Endpoint& endpoint);

// A client context that carries the bearer token, with a deadline when `timeout_ms` > 0.
std::unique_ptr<grpc::ClientContext> make_context(const Endpoint& endpoint, int64_t timeout_ms = 0);

// Server side: TLS credentials from PEM files when both are given, plaintext when both are empty;
// Error naming the flag when only one is given or a file cannot be read.
std::shared_ptr<grpc::ServerCredentials> server_credentials(const std::string& cert_file,
                                                            const std::string& key_file);

// The bearer token of an incoming call ("" when absent or not "Bearer ...").
std::string bearer_token(const grpc::ServerContext& context);

// "UNAUTHENTICATED: missing token" — for error messages.
std::string describe(const grpc::Status& status);

}  // namespace gradpool
