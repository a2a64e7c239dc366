// StallInspector: the deadline on every collective, and the evidence of who is missing.
//
// Before entering collective #n a rank raises its arrival counter in the rendezvous store to n. A
// watchdog thread waits for the collective to finish; if it outlives the deadline, the watchdog
// reads every rank's counter (bounded in time: the store's host may be the rank that hangs), logs
// which ranks never arrived, lets the backend abort, and ends the process with
// kExitCollectiveTimeout. A stuck rank can therefore never hang the others silently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <torch/csrc/distributed/c10d/Store.hpp>

namespace gradpool {

// Opens a new client connection to the rendezvous store (each thread uses its own).
using StoreFactory = std::function<c10::intrusive_ptr<c10d::Store>()>;

class StallInspector {
 public:
  StallInspector(int rank, int size, StoreFactory connect, std::chrono::milliseconds timeout,
                 std::function<void()> abort);
  ~StallInspector();

  void enter(const char* collective);  // arrival mark + deadline armed
  void leave();                        // deadline disarmed

 private:
  void watch();
  // "rank 1 (at collective 6 of 7)" for each rank whose counter is below `seq`.
  std::string missing_ranks(int64_t seq);

  const int rank_, size_;
  StoreFactory connect_;
  c10::intrusive_ptr<c10d::Store> marks_;  // used by the training thread only
  const std::chrono::milliseconds timeout_;
  std::function<void()> abort_;

  std::mutex mutex_;
  std::condition_variable changed_;
  bool armed_ = false, stopping_ = false;
  int64_t seq_ = 0;
  const char* collective_ = "";
  std::chrono::steady_clock::time_point deadline_;
  std::thread watchdog_;
};

}  // namespace gradpool
