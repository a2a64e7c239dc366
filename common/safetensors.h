// Safetensors files: the tensor container of Hugging Face checkpoints and PEFT adapters.
//
// Layout: an 8-byte little-endian u64 N, N bytes of JSON header
//   {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
//   ...}
// then the data section; offsets are relative to its start. Tensors are row-major, little-endian.
//
// SafetensorsFile maps a file read-only and checks the whole header when it is opened, so that
// every later accessor is a plain lookup that cannot read out of bounds. CheckpointDir does the
// same for a Hugging Face model directory, sharded or not. Nothing here depends on LibTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gradpool {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

size_t dtype_size(DType dtype);       // bytes per element
const char* dtype_name(DType dtype);  // the header spelling: "F32", "BF16", ...

// Where one tensor lives in a file: [begin, end) bytes of the data section.
struct TensorInfo {
  DType dtype;
  std::vector<int64_t> shape;  // empty for a scalar
  uint64_t begin = 0;
  uint64_t end = 0;

  int64_t numel() const;  // 1 for a scalar, 0 if any dimension is 0
};

// A read-only memory map of one .safetensors file. Movable, not copyable; the mapping lives as long
// as the object, so pointers from data() must not outlive it. The data of a tensor is aligned to
// its element size in files written by write_safetensors or the Python library, but a foreign file
// may place it anywhere: callers that need alignment copy.
class SafetensorsFile {
 public:
  // Maps `path` and validates the header against the file size; throws Error naming the file and,
  // where there is one, the tensor.
  static SafetensorsFile open(const std::string& path);

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;  // throws Error if absent
  const uint8_t* data(const std::string& name) const;     // info(name).end - begin raw bytes

 private:
  SafetensorsFile() = default;
  void unmap();

  std::string path_;
  const uint8_t* map_ = nullptr;  // the whole file, or nullptr once moved from
  size_t map_size_ = 0;
  const uint8_t* data_section_ = nullptr;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write; `data` points to numel * dtype_size bytes, little-endian, row-major.
struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;
};

// Writes `tensors` atomically (temp file + rename) byte for byte as Python's safetensors.save_file
// would: tensors ordered by descending dtype alignment, then by name (so that each one is aligned
// to its element size), header in that order after "__metadata__" (omitted when empty), padded with
// spaces to a multiple of 8. Throws Error on a duplicate or reserved name or a negative dimension.
void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// The weights of a Hugging Face checkpoint directory: either model.safetensors, or the shards that
// model.safetensors.index.json lists in its "weight_map". Each shard is mapped once; open() checks
// that every tensor the index names is in its shard.
class CheckpointDir {
 public:
  static CheckpointDir open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return shard_of_.count(name) != 0; }
  const SafetensorsFile& file_of(const std::string& name) const;  // throws Error if absent
  const TensorInfo& info(const std::string& name) const { return file_of(name).info(name); }
  const uint8_t* data(const std::string& name) const { return file_of(name).data(name); }

 private:
  std::string dir_;
  std::vector<SafetensorsFile> shards_;
  std::map<std::string, size_t> shard_of_;  // tensor name -> index into shards_
};

}  // namespace gradpool
