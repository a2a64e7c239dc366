// Dataset loading: a JSONL file of records, tokenized and cut into fixed-length Samples.
//
// Formats (the job spec's `format`), one JSON object per line; blank lines are skipped and fields
// other than these are ignored, so records may carry metadata:
//   text               {"text": "..."}                          loss on every token
//   prompt_completion  {"prompt": "...", "completion": "..."}   loss on completion tokens + EOS
//
// Files are streamed a line at a time and each record is tokenized as it is read, so memory holds
// the samples (4 bytes a token), never the file.
//
// Special tokens. Text documents and prompts are encoded with add_special_tokens=true, exactly as
// HF's `tokenizer(text)` in run_clm / TRL: the tokenizer.json post-processor decides whether a BOS
// comes first (Llama's templates add <s> / <|begin_of_text|>, GPT-2's adds nothing). We do not
// prepend bos_id() ourselves: a tokenizer whose template adds no BOS is used without one by HF too.
// Completions are encoded on their own with add_special_tokens=false, since they continue the
// prompt: the token boundary is where the user split the text (put a leading space in the
// completion if the model expects one). The tokenizer's EOS ends every document and completion
// and is the padding id; a tokenizer without an EOS is rejected.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/job_spec.h"  // DataFormat
#include "worker/train/samples.h"

namespace gradpool {

class Tokenizer;

// One record of a JSONL dataset.
struct JsonlRecord {
  int64_t line;        // 1-based line number in the file
  std::string prompt;  // `prompt`; empty in the text format
  std::string target;  // the text to learn: `text`, or `completion`
};

// Calls visit(line_number, line) for each line of `path` (1-based; without the newline or a
// trailing '\r'), reading one line at a time. Throws Error naming the file if it cannot be read.
void for_each_line(const std::string& path,
                   const std::function<void(int64_t, const std::string&)>& visit);

// Calls visit for every record of `path`, in file order, and returns how many there were. Throws
// Error naming the file and line for invalid JSON, a line that is not an object, or a field that
// is missing or not a string; and naming the file if it is missing or holds no record at all.
int64_t read_jsonl(const std::string& path, DataFormat format,
                   const std::function<void(const JsonlRecord&)>& visit);

struct Dataset {
  Samples samples;  // at least one
  DatasetStats stats;
};

// Reads, tokenizes and cuts `path` into samples of seq_len tokens (see SampleBuilder for packing,
// masking and truncation). Examples skipped because their prompt fills seq_len are counted in
// stats and logged once as a warning. Throws Error as read_jsonl does, on a bad seq_len, on a
// tokenizer without EOS, and naming the file if no sample remains.
Dataset load_jsonl_dataset(const std::string& path, DataFormat format, const Tokenizer& tokenizer,
                           int64_t seq_len);

}  // namespace gradpool
