// RpcTimingInterceptors: a gRPC server interceptor factory that times every call of the
// coordinator's services into gradpool_rpc_duration_seconds{method="Jobs.Submit"}: from the
// moment gRPC matches the call to its method until the handler's status is sent, so a streaming
// call (Jobs.Logs, Datasets.Upload) counts until its stream ends. An interceptor, rather than a
// timer in each handler, times every method of every service in one place, the Datasets service
// included. (gRPC 1.51 still files server interceptors under grpc::experimental.)
#pragma once

#include <map>
#include <string>
#include <vector>

#include <grpcpp/support/server_interceptor.h>

#include "coordinator/pool_metrics.h"

namespace gradpool {

class RpcTimingInterceptors final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // Makes the series of every method of `services` (full names, "gradpool.v1.Jobs") at zero.
  // Calls of other methods are not timed: their names come from the network.
  RpcTimingInterceptors(PoolMetrics& metrics, const std::vector<std::string>& services);

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  std::map<std::string, prometheus::Histogram*> by_path_;  // "/gradpool.v1.Jobs/Submit" → series
};

}  // namespace gradpool
