// Text import: turns plain-text record files into a `text`-format JSONL dataset.
//
// Made for the demo dataset: the Debian `fortunes` package's files (/usr/share/games/fortunes/*,
// records separated by a line holding only "%"), but any "records between separator lines" file
// works. The caller picks the inputs, so it leaves out binary companions such as fortune's .dat
// index files (and the .u8 symlinks, which would duplicate records).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gradpool {

struct TextImportStats {
  int64_t records = 0;        // lines written to the JSONL file
  int64_t empty_dropped = 0;  // records of whitespace-only lines, left out
};

// Writes one {"text": record} line per record of `inputs`, in order, to `output_path` (atomically:
// a failure leaves no partial file). A record is the lines between two separator lines (or a file's
// start/end), if there are any, joined by '\n' without a trailing newline; '\r' line ends are
// dropped. Bytes that are not valid UTF-8 become U+FFFD, so the output is always valid JSON. Reads
// a line at a time. Throws Error naming the file that cannot be read or written, or if no record is
// left at all.
TextImportStats convert_text_records_to_jsonl(const std::vector<std::string>& inputs,
                                              const std::string& separator_line,
                                              const std::string& output_path);

}  // namespace gradpool
