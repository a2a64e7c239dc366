#include "coordinator/auth/authorizer.h"

#include <algorithm>

#include "coordinator/rpc_error.h"
#include "proto/channel.h"

namespace gradpool {

Authorizer::Authorizer(const TokenStore& tokens) : tokens_(tokens) {}

grpc::Status Authorizer::authorize(const grpc::ServerContext& context,
                                   std::initializer_list<Role> allowed, const char* method,
                                   Caller* caller) const {
  return guarded([&] {
    *caller = require(context, allowed, method);
    return grpc::Status::OK;
  });
}

Caller Authorizer::require(const grpc::ServerContext& context, std::initializer_list<Role> allowed,
                           const char* method) const {
  const std::string token = bearer_token(context);
  if (token.empty())
    rpc_fail(grpc::StatusCode::UNAUTHENTICATED, "{}: missing bearer token", method);
  std::optional<Caller> caller = tokens_.find(token);
  if (!caller) rpc_fail(grpc::StatusCode::UNAUTHENTICATED, "{}: unknown token", method);
  if (std::find(allowed.begin(), allowed.end(), caller->role) == allowed.end())
    rpc_fail(grpc::StatusCode::PERMISSION_DENIED, "{}: role '{}' may not call this", method,
             to_string(caller->role));
  return *caller;
}

}  // namespace gradpool
