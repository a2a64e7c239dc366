#include "common/file_util.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"

namespace gradpool {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail("{}: read failed", path);
  return buffer.str();
}

void write_file_atomic(const std::string& path, const std::function<void(std::FILE*)>& write) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  std::FILE* file = std::fopen(tmp.c_str(), "wb");
  if (!file) fail("{}: cannot create: {}", tmp, std::strerror(errno));
  try {
    write(file);
  } catch (...) {
    std::fclose(file);
    std::remove(tmp.c_str());
    throw;
  }
  const bool ok = std::fflush(file) == 0 && ::fsync(::fileno(file)) == 0;
  const bool closed = std::fclose(file) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    fail("{}: write failed: {}", tmp, std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail("{}: cannot rename into place: {}", path, std::strerror(errno));
  }
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  write_file_atomic(path, [&](std::FILE* file) {
    if (std::fwrite(contents.data(), 1, contents.size(), file) != contents.size())
      fail("{}: short write", path);
  });
}

}  // namespace gradpool
