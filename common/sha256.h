// SHA-256 (OpenSSL) as lowercase hex: dataset and shard checksums, hashed API tokens.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace gradpool {

// Incremental hashing for streamed uploads and downloads.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  std::string hex_digest();  // finishes; call once

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

std::string sha256_hex(std::string_view bytes);

// Hash of a whole file, read in chunks; Error naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace gradpool
