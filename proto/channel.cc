#include "proto/channel.h"

#include <chrono>

#include "common/error.h"
#include "common/file_util.h"

namespace gradpool {
namespace {

std::string read_pem(const std::string& path, const char* what) {
  try {
    return read_file(path);
  } catch (const Error& e) {
    fail("{}: {}", what, e.what());
  }
}

const char* status_code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    default:
      return "ERROR";
  }
}

}  // namespace

std::shared_ptr<grpc::Channel> open_channel(const Endpoint& endpoint) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxRpcMessageBytes);
  args.SetMaxSendMessageSize(kMaxRpcMessageBytes);
  // gRPC's default reconnect backoff grows to two minutes. A worker must reach a restarted
  // coordinator within one lease (seconds), and a rank its rendezvous, so reconnect within a
  // second whatever happened before.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A channel opened to replace a failed one must not inherit its backed-off connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (endpoint.ca_cert_file.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = read_pem(endpoint.ca_cert_file, "--ca-cert");
    credentials = grpc::SslCredentials(options);
  }
  return grpc::CreateCustomChannel(endpoint.address, credentials, args);
}

std::unique_ptr<grpc::ClientContext> make_context(const Endpoint& endpoint, int64_t timeout_ms) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!endpoint.token.empty()) context->AddMetadata("authorization", "Bearer " + endpoint.token);
  if (timeout_ms > 0)
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  return context;
}

std::shared_ptr<grpc::ServerCredentials> server_credentials(const std::string& cert_file,
                                                            const std::string& key_file) {
  if (cert_file.empty() && key_file.empty()) return grpc::InsecureServerCredentials();
  if (cert_file.empty() || key_file.empty()) fail("--tls-cert and --tls-key: give both or neither");
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back(
      {read_pem(key_file, "--tls-key"), read_pem(cert_file, "--tls-cert")});
  return grpc::SslServerCredentials(options);
}

std::string bearer_token(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find("authorization");
  if (found == metadata.end()) return "";
  const std::string value(found->second.data(), found->second.size());
  const std::string prefix = "Bearer ";
  return value.rfind(prefix, 0) == 0 ? value.substr(prefix.size()) : "";
}

std::string describe(const grpc::Status& status) {
  return std::string(status_code_name(status.error_code())) + ": " + status.error_message();
}

}  // namespace gradpool
