#include "worker/train/text_import.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file_util.h"
#include "worker/train/dataset.h"

namespace gradpool {

TextImportStats convert_text_records_to_jsonl(const std::vector<std::string>& inputs,
                                              const std::string& separator_line,
                                              const std::string& output_path) {
  if (inputs.empty()) fail("{}: no input files to convert", output_path);
  TextImportStats stats;
  write_file_atomic(output_path, [&](std::FILE* out) {
    std::string record;
    bool record_open = false;  // `record` holds at least one line (perhaps an empty one)
    const auto flush = [&] {
      if (!record_open) return;
      record_open = false;
      if (record.find_first_not_of(" \t\n\r\f\v") == std::string::npos) {
        ++stats.empty_dropped;
      } else {
        const std::string line = nlohmann::json{{"text", record}}.dump(
                                     -1, ' ', false, nlohmann::json::error_handler_t::replace) +
                                 '\n';
        if (std::fwrite(line.data(), 1, line.size(), out) != line.size())
          fail("{}: write failed", output_path);
        ++stats.records;
      }
      record.clear();
    };
    for (const std::string& input : inputs) {
      for_each_line(input, [&](int64_t, const std::string& line) {
        if (line == separator_line) return flush();
        if (record_open) record += '\n';
        record += line;
        record_open = true;
      });
      flush();  // a record never continues into the next file
    }
    // Thrown inside the writer, so that no empty dataset replaces an existing file.
    if (stats.records == 0)
      fail("{}: no non-empty records in {} input file(s) (separator line \"{}\")", output_path,
           inputs.size(), separator_line);
  });
  return stats;
}

}  // namespace gradpool
