#include "coordinator/api/rpc_timing.h"

#include <chrono>

#include <google/protobuf/descriptor.h>

#include "common/error.h"

namespace gradpool {
namespace {

using grpc::experimental::InterceptionHookPoints;

// Lives as long as its call; observes once, when the status goes out.
class RpcTimer final : public grpc::experimental::Interceptor {
 public:
  explicit RpcTimer(prometheus::Histogram& duration)
      : duration_(duration), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS))
      duration_.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    methods->Proceed();
  }

 private:
  prometheus::Histogram& duration_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

RpcTimingInterceptors::RpcTimingInterceptors(PoolMetrics& metrics,
                                             const std::vector<std::string>& services) {
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    if (service == nullptr) fail("RPC timing: no gRPC service named '{}'", name);
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string& method = service->method(i)->name();
      by_path_["/" + service->full_name() + "/" + method] =
          &metrics.rpc_duration(service->name() + "." + method);
    }
  }
}

grpc::experimental::Interceptor* RpcTimingInterceptors::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  if (info->method() == nullptr) return nullptr;
  const auto found = by_path_.find(info->method());
  return found == by_path_.end() ? nullptr : new RpcTimer(*found->second);
}

}  // namespace gradpool
