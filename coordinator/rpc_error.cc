#include "coordinator/rpc_error.h"

#include <spdlog/spdlog.h>

namespace gradpool {

grpc::Status guarded(const std::function<grpc::Status()>& body) {
  try {
    return body();
  } catch (const RpcError& e) {
    return grpc::Status(e.code(), e.what());
  } catch (const Error& e) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, e.what());
  } catch (const std::exception& e) {
    spdlog::error("internal error in an RPC handler: {}", e.what());
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string("internal error: ") + e.what());
  }
}

}  // namespace gradpool
