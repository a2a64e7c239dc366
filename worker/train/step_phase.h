// The phases of a training step as the step timeline shows them (gradpool-train --timeline;
// docs/metrics.md), and the callback that the code timing them tells. Kept free of the metrics
// library, which a GPU box without the service libraries does not build.
#pragma once

#include <chrono>
#include <functional>

#include <nlohmann/json.hpp>

namespace gradpool {

enum class StepPhase { kStep, kDataWait, kForward, kBackward, kAllReduce, kOptimizer, kCheckpoint };

using PhaseClock = std::chrono::steady_clock;

// `phase` ran from `start` to `end`; `args` (a JSON object or null) shows with it, e.g.
// {"micro_batch": 2} or {"step": 12}.
using PhaseRecorder = std::function<void(StepPhase phase, PhaseClock::time_point start,
                                         PhaseClock::time_point end, const nlohmann::json& args)>;

}  // namespace gradpool
