#include "common/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file_util.h"

namespace gradpool {
namespace {

using nlohmann::json;

// The Python library refuses headers above 100 MB; a real one is a few hundred KiB at most.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
constexpr char kMetadataKey[] = "__metadata__";

struct DTypeTraits {
  DType dtype;
  const char* name;
  size_t size;
  // Position in the Rust safetensors Dtype enum, which is declared in increasing alignment;
  // save_file orders tensors by it, descending, and we do the same to write identical files.
  int alignment_rank;
};

constexpr DTypeTraits kDTypes[] = {
    {DType::F64, "F64", 8, 8},   {DType::F32, "F32", 4, 7}, {DType::F16, "F16", 2, 4},
    {DType::BF16, "BF16", 2, 5}, {DType::I64, "I64", 8, 9}, {DType::I32, "I32", 4, 6},
    {DType::I16, "I16", 2, 3},   {DType::I8, "I8", 1, 2},   {DType::U8, "U8", 1, 1},
    {DType::BOOL, "BOOL", 1, 0},
};

const DTypeTraits& traits(DType dtype) {
  for (const DTypeTraits& t : kDTypes)
    if (t.dtype == dtype) return t;
  fail("invalid DType value {}", static_cast<int>(dtype));
}

std::optional<DType> parse_dtype(const std::string& name) {
  for (const DTypeTraits& t : kDTypes)
    if (name == t.name) return t.dtype;
  return std::nullopt;
}

// numel * dtype_size, or nullopt if it (or numel itself, as an int64) overflows. A zero dimension
// makes the tensor empty however large the others are. Dimensions must be non-negative.
std::optional<uint64_t> checked_nbytes(DType dtype, const std::vector<int64_t>& shape) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  uint64_t numel = 1;
  for (int64_t dim : shape)
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dim), &numel)) return std::nullopt;
  uint64_t bytes = 0;
  if (numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
      __builtin_mul_overflow(numel, dtype_size(dtype), &bytes))
    return std::nullopt;
  return bytes;
}

// Reads one header entry; everything that can be checked without the other entries is.
TensorInfo parse_entry(const std::string& path, const std::string& name, const json& entry,
                       uint64_t data_size) {
  auto bad = [&](const std::string& what) { fail("{}: tensor '{}': {}", path, name, what); };
  if (!entry.is_object()) bad("header entry is not a JSON object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key)) bad(fmt::format("header entry has no '{}'", key));

  const json& dtype = entry["dtype"];
  std::optional<DType> parsed =
      dtype.is_string() ? parse_dtype(dtype.get<std::string>()) : std::nullopt;
  if (!parsed) bad(fmt::format("unsupported dtype {}", dtype.dump()));
  TensorInfo info{*parsed, {}, 0, 0};

  const json& shape = entry["shape"];
  if (!shape.is_array()) bad(fmt::format("shape {} is not a list", shape.dump()));
  for (const json& dim : shape) {
    if (!dim.is_number_integer())
      bad(fmt::format("shape {} is not a list of integers", shape.dump()));
    if (!dim.is_number_unsigned())
      bad(fmt::format("shape {} has a negative dimension", shape.dump()));
    if (dim.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      bad(fmt::format("shape {} overflows", shape.dump()));
    info.shape.push_back(dim.get<int64_t>());
  }

  const json& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    bad(fmt::format("data_offsets {} is not a pair of non-negative integers", offsets.dump()));
  info.begin = offsets[0].get<uint64_t>();
  info.end = offsets[1].get<uint64_t>();
  if (info.begin > info.end) bad(fmt::format("data_offsets {} are reversed", offsets.dump()));
  if (info.end > data_size)
    bad(fmt::format("data_offsets {} run past the data section ({} bytes)", offsets.dump(),
                    data_size));

  std::optional<uint64_t> nbytes = checked_nbytes(info.dtype, info.shape);
  if (!nbytes)
    bad(fmt::format("shape {} x {} bytes overflows", shape.dump(), dtype_size(info.dtype)));
  if (*nbytes != info.end - info.begin)
    bad(fmt::format("data_offsets {} hold {} bytes but {} {} needs {}", offsets.dump(),
                    info.end - info.begin, dtype_name(info.dtype), shape.dump(), *nbytes));
  return info;
}

// Two non-empty tensors sharing a byte would alias each other's storage.
void check_no_overlap(const std::string& path, const std::map<std::string, TensorInfo>& tensors) {
  std::vector<std::tuple<uint64_t, uint64_t, const std::string*>> ranges;
  for (const auto& [name, info] : tensors)
    if (info.end > info.begin) ranges.emplace_back(info.begin, info.end, &name);
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (std::get<0>(ranges[i]) < std::get<1>(ranges[i - 1]))
      fail("{}: tensor '{}': data overlaps tensor '{}'", path, *std::get<2>(ranges[i]),
           *std::get<2>(ranges[i - 1]));
}

json parse_json_file(const std::string& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
}

void write_bytes(std::FILE* file, const void* bytes, size_t size, const std::string& path) {
  if (size != 0 && std::fwrite(bytes, 1, size, file) != size) fail("{}: short write", path);
}

}  // namespace

size_t dtype_size(DType dtype) {
  return traits(dtype).size;
}
const char* dtype_name(DType dtype) {
  return traits(dtype).name;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;  // cannot overflow: open() checked the byte size
  return n;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile file;  // unmaps on the way out if a check below throws
  file.path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail("{}: file is {} bytes, too short for the 8-byte header length", path, size);
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (map == MAP_FAILED) fail("{}: cannot mmap: {}", path, std::strerror(map_errno));
  file.map_ = static_cast<const uint8_t*>(map);
  file.map_size_ = size;

  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | file.map_[i];
  if (header_size > kMaxHeaderBytes)
    fail("{}: header length {} exceeds the {} byte limit", path, header_size, kMaxHeaderBytes);
  if (header_size > size - 8)
    fail("{}: header length {} runs past the end of the file ({} bytes)", path, header_size, size);
  const char* header_begin = reinterpret_cast<const char*>(file.map_ + 8);
  json header;
  try {
    header = json::parse(header_begin, header_begin + header_size);
  } catch (const json::exception& e) {
    fail("{}: header is not valid JSON: {}", path, e.what());
  }
  if (!header.is_object()) fail("{}: header is not a JSON object", path);

  file.data_section_ = file.map_ + 8 + header_size;
  const uint64_t data_size = size - 8 - header_size;
  for (const auto& [name, entry] : header.items()) {
    if (name != kMetadataKey) {
      file.tensors_.emplace(name, parse_entry(path, name, entry, data_size));
      continue;
    }
    if (!entry.is_object()) fail("{}: {} is not a JSON object", path, kMetadataKey);
    for (const auto& [key, value] : entry.items()) {
      if (!value.is_string()) fail("{}: {} value of '{}' is not a string", path, kMetadataKey, key);
      file.metadata_.emplace(key, value.get<std::string>());
    }
  }
  check_no_overlap(path, file.tensors_);
  return file;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept {
  *this = std::move(other);
}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    map_ = std::exchange(other.map_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    data_section_ = std::exchange(other.data_section_, nullptr);
    tensors_ = std::move(other.tensors_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  unmap();
}

void SafetensorsFile::unmap() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), map_size_);
  map_ = nullptr;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("{}: no tensor named '{}'", path_, name);
  return it->second;
}

const uint8_t* SafetensorsFile::data(const std::string& name) const {
  return data_section_ + info(name).begin;
}

void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorView*> order;
  std::set<std::string> names;
  for (const TensorView& t : tensors) {
    if (t.name == kMetadataKey) fail("{}: '{}' is reserved, not a tensor name", path, t.name);
    if (!names.insert(t.name).second) fail("{}: tensor '{}' given twice", path, t.name);
    order.push_back(&t);
  }
  std::sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
    const int ra = traits(a->dtype).alignment_rank, rb = traits(b->dtype).alignment_rank;
    return ra != rb ? ra > rb : a->name < b->name;
  });

  // Python writes the header in data order, so ordered_json rather than json's sorted keys.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::vector<uint64_t> sizes;
  uint64_t offset = 0;
  for (const TensorView* t : order) {
    for (int64_t dim : t->shape)
      if (dim < 0) fail("{}: tensor '{}': negative dimension {}", path, t->name, dim);
    std::optional<uint64_t> nbytes = checked_nbytes(t->dtype, t->shape);
    if (!nbytes) fail("{}: tensor '{}': byte size overflows", path, t->name);
    if (*nbytes != 0 && t->data == nullptr) fail("{}: tensor '{}': no data", path, t->name);
    nlohmann::ordered_json& entry = header[t->name];
    entry["dtype"] = dtype_name(t->dtype);
    entry["shape"] = t->shape;
    entry["data_offsets"] = {offset, offset + *nbytes};
    offset += *nbytes;
    sizes.push_back(*nbytes);
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  write_file_atomic(path, [&](std::FILE* file) {
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(header_text.size() >> (8 * i));
    write_bytes(file, length, sizeof(length), path);
    write_bytes(file, header_text.data(), header_text.size(), path);
    for (size_t i = 0; i < order.size(); ++i) write_bytes(file, order[i]->data, sizes[i], path);
  });
}

CheckpointDir CheckpointDir::open(const std::string& dir) {
  namespace fs = std::filesystem;
  CheckpointDir checkpoint;
  checkpoint.dir_ = dir;
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single_path = fs::path(dir) / "model.safetensors";

  if (!fs::exists(index_path)) {
    if (!fs::exists(single_path))
      fail("{}: no model.safetensors or model.safetensors.index.json", dir);
    checkpoint.shards_.push_back(SafetensorsFile::open(single_path.string()));
    for (const auto& entry : checkpoint.shards_[0].tensors()) checkpoint.shard_of_[entry.first] = 0;
    return checkpoint;
  }

  const std::string index = index_path.string();
  const json parsed = parse_json_file(index);
  if (!parsed.is_object() || !parsed.contains("weight_map") || !parsed["weight_map"].is_object())
    fail("{}: no 'weight_map' object", index);
  std::map<std::string, size_t> shard_by_file;
  for (const auto& [name, file] : parsed["weight_map"].items()) {
    if (!file.is_string()) fail("{}: weight_map['{}'] is not a file name", index, name);
    const std::string shard = file.get<std::string>();
    // Shards sit beside the index; a path would let a checkpoint point anywhere.
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..")
      fail("{}: weight_map['{}'] = '{}' is not a plain file name", index, name, shard);
    auto it = shard_by_file.find(shard);
    if (it == shard_by_file.end()) {
      const fs::path shard_path = fs::path(dir) / shard;
      if (!fs::exists(shard_path))
        fail("{}: tensor '{}' is in shard '{}', which does not exist", index, name, shard);
      checkpoint.shards_.push_back(SafetensorsFile::open(shard_path.string()));
      it = shard_by_file.emplace(shard, checkpoint.shards_.size() - 1).first;
    }
    if (!checkpoint.shards_[it->second].contains(name))
      fail("{}: tensor '{}' is listed in shard '{}', which does not contain it", index, name,
           shard);
    checkpoint.shard_of_[name] = it->second;
  }
  return checkpoint;
}

std::vector<std::string> CheckpointDir::names() const {
  std::vector<std::string> names;
  for (const auto& entry : shard_of_) names.push_back(entry.first);
  return names;
}

const SafetensorsFile& CheckpointDir::file_of(const std::string& name) const {
  auto it = shard_of_.find(name);
  if (it == shard_of_.end()) fail("{}: checkpoint has no tensor named '{}'", dir_, name);
  return shards_[it->second];
}

}  // namespace gradpool
