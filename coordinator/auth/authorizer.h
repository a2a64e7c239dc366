// Authorizer: turns an incoming call's bearer token into a Caller and checks its role against
// what the RPC allows. Every coordinator handler starts with it; it owns nothing but a reference
// to the TokenStore.
#pragma once

#include <initializer_list>

#include <grpcpp/grpcpp.h>

#include "coordinator/auth/token_store.h"

namespace gradpool {

class Authorizer {
 public:
  explicit Authorizer(const TokenStore& tokens);

  // OK with *caller filled; UNAUTHENTICATED "Jobs.Submit: missing bearer token" / "Jobs.Submit:
  // unknown token"; PERMISSION_DENIED "Jobs.Submit: role 'worker' may not call this".
  grpc::Status authorize(const grpc::ServerContext& context, std::initializer_list<Role> allowed,
                         const char* method, Caller* caller) const;

  // The same check for handlers running inside guarded(): returns the caller or throws RpcError.
  Caller require(const grpc::ServerContext& context, std::initializer_list<Role> allowed,
                 const char* method) const;

 private:
  const TokenStore& tokens_;
};

}  // namespace gradpool
