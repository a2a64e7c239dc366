// Gloo (through LibTorch's c10d ProcessGroupGloo): collectives between CPU ranks over TCP.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include "worker/train/comm/backends.h"

namespace gradpool {
namespace {

class GlooCommunicator final : public Communicator {
 public:
  GlooCommunicator(const CommOptions& options, StoreFactory stores)
      : Communicator(options.rank, options.world_size, stores, options.timeout) {
    // Gloo's own timeout is set past ours, so that the stall inspector, which can name the
    // missing ranks, always fires first.
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout +
                                                                std::chrono::seconds(60));
    gloo_options->devices.push_back(
        c10d::ProcessGroupGloo::createDeviceForHostname(options.local_address));
    group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(stores(), options.rank,
                                                         options.world_size, gloo_options);
  }

  const char* backend() const override { return "gloo"; }

 protected:
  void do_all_reduce_sum(at::Tensor& flat) override {
    std::vector<at::Tensor> tensors{flat};
    group_->allreduce(tensors)->wait();
  }
  void do_broadcast(at::Tensor& tensor, int root) override {
    std::vector<at::Tensor> tensors{tensor};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    group_->broadcast(tensors, options)->wait();
  }
  void do_barrier() override { group_->barrier()->wait(); }
  void abort() noexcept override {}  // Gloo holds nothing that outlives the process

 private:
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

}  // namespace

std::unique_ptr<Communicator> make_gloo_communicator(const CommOptions& options,
                                                     StoreFactory stores) {
  return std::make_unique<GlooCommunicator>(options, std::move(stores));
}

}  // namespace gradpool
