// Pattern: what a Split pre-tokenizer, a Replace normalizer or a Replace decoder looks for in a
// string — a regex or a literal — compiled with PCRE2 (UTF, UCP) to behave like the Oniguruma
// regexes `tokenizers` uses (\p{L}, \s as Unicode White_Space, ^ and $ at line ends).
//
// Immutable: match state lives in each call, so one Pattern may serve several threads.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace gradpool::tok {

class JsonNode;

// A piece of a string: [begin, end) in bytes, and whether the pattern matched it.
struct Span {
  size_t begin;
  size_t end;
  bool is_match;
};

class Pattern {
 public:
  // {"Regex": "..."} or {"String": "..."}; fails naming `node` for anything else or a bad regex.
  static Pattern from_json(const JsonNode& node);
  // Patterns fixed in our code; throws Error if `regex` does not compile.
  static Pattern literal(const std::string& text);
  static Pattern regex(const std::string& regex);

  // Passes `visit` the consecutive spans that cut `text`, the matches and the gaps between them,
  // in order (tokenizers' Pattern::find_matches). Empty text gives one empty non-match. A callback
  // so that a large document needs no vector of millions of spans.
  void for_each_span(std::string_view text, const std::function<void(const Span&)>& visit) const;
  // `text` with every match replaced by `content`.
  std::string replace_all(std::string_view text, std::string_view content) const;

 private:
  struct Code;
  explicit Pattern(std::shared_ptr<const Code> code) : code_(std::move(code)) {}
  static std::shared_ptr<const Code> compile(const std::string& text, bool literal,
                                             std::string* error);

  std::shared_ptr<const Code> code_;
};

}  // namespace gradpool::tok
