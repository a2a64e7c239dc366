// RpcError: an Error that knows which gRPC status it becomes, and guarded(), which every
// coordinator RPC handler runs its body in so that no exception ever escapes into gRPC.
//
//   return guarded([&] { ...; rpc_fail(grpc::StatusCode::NOT_FOUND, "job {}: no such job", id); });
//
// RpcError → its code; any other Error (bad input, named by its message) → INVALID_ARGUMENT;
// anything else → INTERNAL, logged.
#pragma once

#include <functional>
#include <string>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "common/error.h"

namespace gradpool {

class RpcError : public Error {
 public:
  RpcError(grpc::StatusCode code, const std::string& message) : Error(message), code_(code) {}
  grpc::StatusCode code() const { return code_; }

 private:
  grpc::StatusCode code_;
};

template <typename... Args>
[[noreturn]] void rpc_fail(grpc::StatusCode code, fmt::format_string<Args...> format,
                           Args&&... args) {
  throw RpcError(code, fmt::format(format, std::forward<Args>(args)...));
}

// Runs `body` (which returns grpc::Status::OK or a status of its own) and maps what it throws.
grpc::Status guarded(const std::function<grpc::Status()>& body);

}  // namespace gradpool
