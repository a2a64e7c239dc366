// Bridges between gradpool's torch-free pieces (safetensors, config) and LibTorch tensors, and the
// few LibTorch API differences between Debian's 1.13 and torch 2.x.
#pragma once

#include <string>

#include <torch/torch.h>

#include "common/safetensors.h"

namespace gradpool {

at::ScalarType to_scalar_type(DType dtype);
DType to_dtype(at::ScalarType type);  // Error for types safetensors cannot hold

// Copies tensor `name` of `file` into a new tensor of `type` on `device`.
at::Tensor load_tensor(const CheckpointDir& file, const std::string& name, at::ScalarType type,
                       const at::Device& device);
at::Tensor load_tensor(const SafetensorsFile& file, const std::string& name, at::ScalarType type,
                       const at::Device& device);

// A view of a CPU-contiguous tensor for write_safetensors; `tensor` must outlive the view.
TensorView view_of(const std::string& name, const at::Tensor& tensor);

// "fp32" | "fp16" | "bf16" → at::ScalarType, and back.
at::ScalarType parse_compute_dtype(const std::string& name);
std::string dtype_label(at::ScalarType type);

}  // namespace gradpool
