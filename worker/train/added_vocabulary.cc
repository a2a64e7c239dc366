#include "worker/train/added_vocabulary.h"

#include <algorithm>
#include <utility>

#include "worker/train/normalizer.h"
#include "worker/train/pattern.h"
#include "worker/train/utf8.h"

namespace gradpool::tok {

namespace {

// Rust's `c.is_alphanumeric() || c == '_'` on one character, for single_word tokens.
bool is_word_char(std::string_view character) {
  static const Pattern word = Pattern::regex(R"(^[\p{Alphabetic}\p{N}_]$)");
  bool matched = false;
  word.for_each_span(character, [&matched](const Span& span) { matched |= span.is_match; });
  return matched;
}

bool ends_with_word(std::string_view text) {
  return !text.empty() && is_word_char(text.substr(utf8::last_char_start(text)));
}

bool starts_with_word(std::string_view text) {
  return !text.empty() && is_word_char(text.substr(0, utf8::sequence_length(text, 0)));
}

// Where the whitespace at the end of `text` begins.
size_t trailing_space_start(std::string_view text) {
  size_t begin = text.size();
  while (begin > 0) {
    const size_t previous = utf8::last_char_start(text.substr(0, begin));
    size_t length;
    if (!utf8::is_whitespace(utf8::decode(text, previous, &length))) break;
    begin = previous;
  }
  return begin;
}

// Byte length of the whitespace at the start of `text`.
size_t leading_space_length(std::string_view text) {
  size_t end = 0;
  while (end < text.size()) {
    size_t length;
    if (!utf8::is_whitespace(utf8::decode(text, end, &length))) break;
    end += length;
  }
  return end;
}

}  // namespace

void AddedVocabulary::Matcher::add(std::string pattern, size_t token) {
  if (pattern.empty()) return;  // would match everywhere; tokenizers ignores empty tokens too
  auto& bucket = by_first_byte[static_cast<uint8_t>(pattern[0])];
  bucket.push_back(patterns.size());
  patterns.push_back(std::move(pattern));
  tokens.push_back(token);
  std::stable_sort(bucket.begin(), bucket.end(),
                   [this](size_t a, size_t b) { return patterns[a].size() > patterns[b].size(); });
}

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer)
    : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    std::string pattern = tokens_[i].content;
    if (!tokens_[i].normalized) {
      raw_.add(std::move(pattern), i);
      continue;
    }
    if (normalizer) normalizer->normalize(pattern);
    normalized_.add(std::move(pattern), i);
  }
}

std::vector<AddedVocabulary::Match> AddedVocabulary::find(const std::string& text,
                                                          const Matcher& matcher) const {
  std::vector<Match> matches;
  size_t start_offset = 0;  // end of the last accepted token
  for (size_t pos = 0; pos < text.size();) {
    const auto& bucket = matcher.by_first_byte[static_cast<uint8_t>(text[pos])];
    auto hit = std::find_if(bucket.begin(), bucket.end(), [&](size_t i) {
      return text.compare(pos, matcher.patterns[i].size(), matcher.patterns[i]) == 0;
    });
    if (hit == bucket.end()) {
      ++pos;
      continue;
    }
    size_t begin = pos, end = pos + matcher.patterns[*hit].size();
    pos = end;  // matches never overlap, whether or not this one is accepted
    const AddedToken& token = tokens_[matcher.tokens[*hit]];
    const std::string_view view(text);
    if (token.single_word &&
        (ends_with_word(view.substr(0, begin)) || starts_with_word(view.substr(end))))
      continue;
    // A previous token's rstrip may already have taken the spaces this lstrip wants.
    if (token.lstrip) begin = std::max(trailing_space_start(view.substr(0, begin)), start_offset);
    if (token.rstrip) end += leading_space_length(view.substr(end));
    if (start_offset < begin) matches.push_back({nullptr, start_offset, begin});
    matches.push_back({&token, begin, end});
    start_offset = end;
  }
  if (start_offset < text.size()) matches.push_back({nullptr, start_offset, text.size()});
  return matches;
}

void AddedVocabulary::split(const std::string& text, const Normalizer* normalizer,
                            const std::function<void(Segment&&)>& sink) const {
  for (const Match& outer : find(text, raw_)) {
    if (outer.token) {
      sink(Segment{outer.token->id, Piece{}});
      continue;
    }
    std::string stretch = text.substr(outer.begin, outer.end - outer.begin);
    if (normalizer) normalizer->normalize(stretch);
    for (const Match& inner : find(stretch, normalized_)) {
      const bool at_start = outer.begin == 0 && inner.begin == 0;
      if (inner.token)
        sink(Segment{inner.token->id, Piece{}});
      else if (inner.begin == 0 && inner.end == stretch.size())  // the common case: no copy
        sink(Segment{-1, Piece{std::move(stretch), at_start}});
      else
        sink(Segment{-1, Piece{stretch.substr(inner.begin, inner.end - inner.begin), at_start}});
    }
  }
}

}  // namespace gradpool::tok
