// Model FLOPs utilisation (MFU) of a training step: the FLOPs the model's arithmetic needs, over
// what the GPU could do in that time at its peak. The peaks are a small table of the dense
// (no sparsity) figures NVIDIA publishes for common GPUs; a GPU not in it, or a precision it has
// no peak for, gets no MFU rather than a guess. Nothing here depends on LibTorch.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/job_spec.h"

namespace gradpool {

// Peak dense FLOP/s of the GPU named `gpu_name` (as CUDA names it, e.g. "NVIDIA H100 80GB HBM3")
// for matrix work in `precision` (fp32, fp16 or bf16): fp16/bf16 on tensor cores with fp32
// accumulation, fp32 without TF32 (LibTorch's default for matrix products). nullopt when the
// table does not know the GPU or it has no such peak (bf16 before Ampere).
std::optional<double> peak_dense_flops(std::string_view gpu_name, Precision precision);

// 6·N·tokens / seconds / peak: the standard approximation of a training step's FLOPs (2·N per
// token forward, 4·N backward) for a model of N parameters. With LoRA the frozen weights need no
// weight gradients, so the arithmetic done is nearer 4·N per token; the 6·N convention is kept so
// that the figure compares with other tools'. 0 when `seconds` is not positive.
double model_flops_utilisation(int64_t parameters, int64_t tokens, double seconds,
                               double peak_flops);

}  // namespace gradpool
