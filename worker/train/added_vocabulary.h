// AddedVocabulary: the `added_tokens` of tokenizer.json (special tokens such as <|endoftext|>
// and user-added ones). They are found in the input before anything else, so the model never
// splits them: "a<|endoftext|>b" → "a", <|endoftext|>, "b".
//
// Matching follows tokenizers' AddedVocabulary: leftmost-longest, first the tokens with
// normalized=false on the raw text, then those with normalized=true on each normalized stretch;
// single_word, lstrip and rstrip as there. Immutable once built.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "worker/train/pretokenizer.h"

namespace gradpool::tok {

class Normalizer;

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;
  bool single_word = false;  // only where not inside a word
  bool lstrip = false;       // swallows the whitespace before it
  bool rstrip = false;       // swallows the whitespace after it
  bool normalized = true;    // matched in normalized text rather than the raw input
};

// A stretch of the input: an added token (id >= 0) or normalized text for the pre-tokenizer.
struct Segment {
  int32_t added_id = -1;
  Piece piece;
};

class AddedVocabulary {
 public:
  // `normalizer` (may be null) normalizes the patterns of normalized tokens; it is not kept.
  AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer);

  // Cuts `text` into added tokens and the normalized text between them, passed to `sink` in
  // order; empty stretches are dropped.
  void split(const std::string& text, const Normalizer* normalizer,
             const std::function<void(Segment&&)>& sink) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // Tokens to look for, bucketed by first byte, longest first within a bucket.
  struct Matcher {
    std::vector<std::string> patterns;
    std::vector<size_t> tokens;  // index in tokens_ of each pattern
    std::vector<std::vector<size_t>> by_first_byte = std::vector<std::vector<size_t>>(256);

    void add(std::string pattern, size_t token);
  };
  struct Match {
    const AddedToken* token;  // null for the text between tokens
    size_t begin, end;
  };

  std::vector<Match> find(const std::string& text, const Matcher& matcher) const;

  std::vector<AddedToken> tokens_;
  Matcher raw_;
  Matcher normalized_;
};

}  // namespace gradpool::tok
