#include "worker/train/torch_util.h"

#include "common/error.h"

namespace gradpool {

at::ScalarType to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::F64: return at::kDouble;
    case DType::F32: return at::kFloat;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::I64: return at::kLong;
    case DType::I32: return at::kInt;
    case DType::I16: return at::kShort;
    case DType::I8: return at::kChar;
    case DType::U8: return at::kByte;
    case DType::BOOL: return at::kBool;
  }
  fail("unknown safetensors dtype {}", static_cast<int>(dtype));
}

DType to_dtype(at::ScalarType type) {
  switch (type) {
    case at::kDouble: return DType::F64;
    case at::kFloat: return DType::F32;
    case at::kHalf: return DType::F16;
    case at::kBFloat16: return DType::BF16;
    case at::kLong: return DType::I64;
    case at::kInt: return DType::I32;
    case at::kShort: return DType::I16;
    case at::kChar: return DType::I8;
    case at::kByte: return DType::U8;
    case at::kBool: return DType::BOOL;
    default: fail("tensor type {} cannot be stored in safetensors", c10::toString(type));
  }
}

namespace {
at::Tensor copy_out(const TensorInfo& info, const uint8_t* data, at::ScalarType type,
                    const at::Device& device) {
  // safetensors data are little-endian and only byte-aligned: from_blob needs no alignment for
  // a copy, and clone() gives the tensor its own storage before the mapping goes away.
  auto blob = at::from_blob(const_cast<uint8_t*>(data), info.shape,
                            at::TensorOptions().dtype(to_scalar_type(info.dtype)));
  return blob.to(device, type, /*non_blocking=*/false, /*copy=*/true);
}
}  // namespace

at::Tensor load_tensor(const CheckpointDir& dir, const std::string& name, at::ScalarType type,
                       const at::Device& device) {
  return copy_out(dir.info(name), dir.data(name), type, device);
}

at::Tensor load_tensor(const SafetensorsFile& file, const std::string& name, at::ScalarType type,
                       const at::Device& device) {
  return copy_out(file.info(name), file.data(name), type, device);
}

TensorView view_of(const std::string& name, const at::Tensor& tensor) {
  if (!tensor.device().is_cpu() || !tensor.is_contiguous())
    fail("internal: tensor '{}' must be CPU-contiguous to be written", name);
  return TensorView{name, to_dtype(tensor.scalar_type()), tensor.sizes().vec(), tensor.data_ptr()};
}

at::ScalarType parse_compute_dtype(const std::string& name) {
  if (name == "fp32") return at::kFloat;
  if (name == "bf16") return at::kBFloat16;
  if (name == "fp16") return at::kHalf;
  fail("unknown precision '{}' (expected fp32, bf16 or fp16)", name);
}

std::string dtype_label(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "fp32";
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "fp16";
    default: return c10::toString(type);
  }
}

}  // namespace gradpool
