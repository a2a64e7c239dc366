// Small file helpers shared by every writer: whole-file reads and atomic replacement.
#pragma once

#include <functional>
#include <string>

namespace gradpool {

// Reads a whole file; throws Error naming the path if it cannot be opened or read.
std::string read_file(const std::string& path);

// Writes `path` atomically: `write` fills `path.tmp.<pid>`, which is fsync'ed and renamed over
// `path`, so a crash leaves either the old file or the new one, never a torn one.
void write_file_atomic(const std::string& path, const std::function<void(std::FILE*)>& write);
void write_file_atomic(const std::string& path, const std::string& contents);

}  // namespace gradpool
