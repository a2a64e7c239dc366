// Client: how every `gradpool` command reaches the coordinator. It holds the global options
// (--coordinator, --token-file, --ca-cert, --timeout-s), resolves the token, opens one channel with
// the three API stubs, and turns failed calls into Errors whose message says what to do.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "proto/channel.h"
#include "proto/gradpool.grpc.pb.h"

namespace gradpool::cli {

struct GlobalOptions {
  std::string coordinator = "127.0.0.1:7070";  // --coordinator, env GRADPOOL_COORDINATOR
  std::string token_file;                      // --token-file
  std::string ca_cert;                         // --ca-cert, env GRADPOOL_CA_CERT
  double timeout_s = 30;                       // deadline of each unary call
};

// A bearer token and where it came from, for error messages.
struct ResolvedToken {
  std::string token;   // "" when none was found
  std::string source;  // "--token-file F", "GRADPOOL_TOKEN", "F" (the default file) or ""
};

// The token in order: the --token-file flag (an unreadable or empty file is an Error naming it),
// else `env_token` ($GRADPOOL_TOKEN) when non-empty, else `default_file` when it exists, else none.
// Surrounding whitespace is dropped.
ResolvedToken resolve_token(const std::string& token_file_flag,
                            const std::optional<std::string>& env_token,
                            const std::filesystem::path& default_file);

// ~/.config/gradpool/token ($XDG_CONFIG_HOME when set).
std::filesystem::path default_token_file();

class Client {
 public:
  explicit Client(const GlobalOptions& options);
  // A client for an endpoint whose token is already known (gradpool run's own coordinator).
  Client(const Endpoint& endpoint, double timeout_s);

  v1::Jobs::Stub& jobs() { return *jobs_; }
  v1::Datasets::Stub& datasets() { return *datasets_; }
  v1::Workers::Stub& workers() { return *workers_; }

  // A context carrying the token, with the --timeout-s deadline (for unary calls).
  std::unique_ptr<grpc::ClientContext> context() const;
  // A context without a deadline, for streams that last as long as a job or an upload.
  std::unique_ptr<grpc::ClientContext> stream_context() const;

  // Throws Error("<CODE>: <message>") for a failed status, adding how to fix an unreachable
  // coordinator address or a missing or rejected token.
  void check(const grpc::Status& status) const;
  std::string describe_failure(const grpc::Status& status) const;

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Client(const GlobalOptions& options, const ResolvedToken& token);

  Endpoint endpoint_;
  std::string token_source_;
  int64_t timeout_ms_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Jobs::Stub> jobs_;
  std::unique_ptr<v1::Datasets::Stub> datasets_;
  std::unique_ptr<v1::Workers::Stub> workers_;
};

}  // namespace gradpool::cli
