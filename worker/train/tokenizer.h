// Tokenizer: a Hugging Face `tokenizer.json` BPE tokenizer (ByteLevel GPT-2 / Llama-3 style, or
// Metaspace with byte fallback, Llama-2 / Mistral style), reproducing `tokenizers` ids exactly.
//
// Immutable after loading, so one instance may be shared by threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gradpool {

class Tokenizer {
 public:
  // Loads and validates `path`; throws Error naming the file and JSON path of anything
  // unsupported or malformed.
  static Tokenizer from_file(const std::string& path);

  // Token ids of `text` as `tokenizers`' `encode(text, add_special_tokens=...)` gives them.
  // add_special_tokens applies the post-processor template (e.g. Llama's leading <s>).
  std::vector<int32_t> encode(const std::string& text, bool add_special_tokens = false) const;
  std::string decode(const std::vector<int32_t>& ids) const;

  int32_t vocab_size() const;  // including added tokens
  std::optional<int32_t> token_to_id(const std::string& token) const;
  // End-of-sequence / beginning-of-sequence ids, found from the added special tokens
  // (</s>, <|endoftext|>, <|end_of_text|>, <|eot_id|> ...; <s>, <|begin_of_text|>).
  std::optional<int32_t> eos_id() const;
  std::optional<int32_t> bos_id() const;

  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gradpool
