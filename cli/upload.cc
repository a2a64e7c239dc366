#include "cli/upload.h"

#include <filesystem>
#include <fstream>
#include <vector>

#include "common/error.h"
#include "common/sha256.h"

namespace gradpool::cli {

v1::Dataset upload_dataset(Client& client, const UploadOptions& options,
                           const UploadProgress& progress) {
  std::error_code error;
  const auto size = static_cast<int64_t>(std::filesystem::file_size(options.path, error));
  if (error) fail("{}: {}", options.path, error.message());
  const std::string digest = sha256_file(options.path);
  std::ifstream file(options.path, std::ios::binary);
  if (!file) fail("{}: cannot open for reading", options.path);

  auto context = client.stream_context();
  v1::Dataset stored;
  auto writer = client.datasets().Upload(context.get(), &stored);
  v1::UploadChunk message;
  v1::UploadHeader& header = *message.mutable_header();
  header.set_name(options.name);
  header.set_size_bytes(size);
  header.set_sha256(digest);
  header.set_replace(options.replace);
  bool open = writer->Write(message);

  if (progress) progress(0, size);
  std::vector<char> buffer(options.chunk_bytes);
  int64_t sent = 0;
  // A failed Write means the coordinator ended the call (e.g. refused the header); Finish() below
  // says why.
  while (open && file) {
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto count = static_cast<size_t>(file.gcount());
    if (count == 0) break;
    message.set_data(buffer.data(), count);
    open = writer->Write(message);
    sent += static_cast<int64_t>(count);
    if (progress) progress(sent, size);
  }
  if (open && (file.bad() || sent != size)) {
    context->TryCancel();
    writer->Finish();
    fail("{}: the file changed while it was being uploaded ({} bytes announced, {} read)",
         options.path, size, sent);
  }
  if (open) writer->WritesDone();
  client.check(writer->Finish());
  return stored;
}

}  // namespace gradpool::cli
