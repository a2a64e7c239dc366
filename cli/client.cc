#include "cli/client.h"

#include <cstdlib>

#include "common/error.h"
#include "common/file_util.h"

namespace gradpool::cli {
namespace {

std::string trimmed(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::optional<std::string>(value) : std::nullopt;
}

}  // namespace

ResolvedToken resolve_token(const std::string& token_file_flag,
                            const std::optional<std::string>& env_token,
                            const std::filesystem::path& default_file) {
  if (!token_file_flag.empty()) {
    const std::string token = trimmed(read_file(token_file_flag));
    if (token.empty()) fail("--token-file {}: the file is empty", token_file_flag);
    return {token, "--token-file " + token_file_flag};
  }
  if (env_token && !trimmed(*env_token).empty()) return {trimmed(*env_token), "GRADPOOL_TOKEN"};
  std::error_code error;
  if (!default_file.empty() && std::filesystem::exists(default_file, error))
    return {trimmed(read_file(default_file.string())), default_file.string()};
  return {};
}

std::filesystem::path default_token_file() {
  if (const auto config = env("XDG_CONFIG_HOME"); config && !config->empty())
    return std::filesystem::path(*config) / "gradpool" / "token";
  if (const auto home = env("HOME"); home && !home->empty())
    return std::filesystem::path(*home) / ".config" / "gradpool" / "token";
  return {};
}

Client::Client(const GlobalOptions& options)
    : Client(options,
             resolve_token(options.token_file, env("GRADPOOL_TOKEN"), default_token_file())) {}

Client::Client(const GlobalOptions& options, const ResolvedToken& token)
    : Client(Endpoint{options.coordinator, token.token, options.ca_cert}, options.timeout_s) {
  token_source_ = token.source;
}

Client::Client(const Endpoint& endpoint, double timeout_s)
    : endpoint_(endpoint),
      timeout_ms_(static_cast<int64_t>(timeout_s * 1000)),
      channel_(open_channel(endpoint)),
      jobs_(v1::Jobs::NewStub(channel_)),
      datasets_(v1::Datasets::NewStub(channel_)),
      workers_(v1::Workers::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> Client::context() const {
  return make_context(endpoint_, timeout_ms_);
}

std::unique_ptr<grpc::ClientContext> Client::stream_context() const {
  return make_context(endpoint_);
}

std::string Client::describe_failure(const grpc::Status& status) const {
  std::string text = describe(status);
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      text += fmt::format(
          " (could not reach the coordinator at {}; give --coordinator HOST:PORT or set "
          "GRADPOOL_COORDINATOR)",
          endpoint_.address);
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      if (token_source_.empty())
        text +=
            " (no token: give --token-file FILE, set GRADPOOL_TOKEN or write "
            "~/.config/gradpool/token)";
      else
        text += fmt::format(" (token from {})", token_source_);
      break;
    default:
      break;
  }
  return text;
}

void Client::check(const grpc::Status& status) const {
  if (!status.ok()) throw Error(describe_failure(status));
}

}  // namespace gradpool::cli
