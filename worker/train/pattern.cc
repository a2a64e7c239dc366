#include "worker/train/pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <optional>
#include <utility>

#include "common/error.h"
#include "worker/train/tokenizer_json.h"
#include "worker/train/utf8.h"

namespace gradpool::tok {

struct Pattern::Code {
  pcre2_code* code;
  ~Code() { pcre2_code_free(code); }
};

namespace {

// Match data for one search loop; the ovector holds the match bounds.
class MatchData {
 public:
  explicit MatchData(const pcre2_code* code)
      : data_(pcre2_match_data_create_from_pattern(code, nullptr)) {
    if (!data_) fail("tokenizer: out of memory for regex match data");
  }
  ~MatchData() { pcre2_match_data_free(data_); }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;

  // The first match at or after `start`, or nullopt. Uses the JIT when it compiled and falls
  // back to the interpreter (heap-based, no stack limit) if the JIT stack runs out.
  std::optional<std::pair<size_t, size_t>> search(const pcre2_code* code, std::string_view text,
                                                  size_t start) {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    int rc = pcre2_match(code, subject, text.size(), start, 0, data_, nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
      rc = pcre2_match(code, subject, text.size(), start, PCRE2_NO_JIT, data_, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return std::nullopt;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      fail("tokenizer: regex match failed: {}", reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data_);
    return std::make_pair(static_cast<size_t>(ovector[0]), static_cast<size_t>(ovector[1]));
  }

 private:
  pcre2_match_data* data_;
};

// Oniguruma's \s is the Unicode White_Space property; PCRE2's (with UCP) also takes U+180E, which
// left White_Space in Unicode 6.3. Spelling the property out makes both agree, in or out of [].
std::string onig_to_pcre2(const std::string& regex) {
  std::string out;
  out.reserve(regex.size());
  for (size_t i = 0; i < regex.size(); ++i) {
    if (regex[i] != '\\' || i + 1 == regex.size()) {
      out += regex[i];
    } else if (regex[i + 1] == 's' || regex[i + 1] == 'S') {
      out += regex[++i] == 's' ? "\\p{White_Space}" : "\\P{White_Space}";
    } else {
      out += regex[i];
      out += regex[++i];  // other escapes stay whole: \\s is a backslash, then s
    }
  }
  return out;
}

}  // namespace

std::shared_ptr<const Pattern::Code> Pattern::compile(const std::string& text, bool literal,
                                                      std::string* error) {
  // MATCH_INVALID_UTF: invalid bytes never match instead of making every search fail.
  // MULTILINE: in Oniguruma's Ruby syntax ^ and $ always match at line boundaries.
  const uint32_t options =
      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP | PCRE2_MULTILINE);
  const std::string source = literal ? text : onig_to_pcre2(text);
  int code_error;
  PCRE2_SIZE offset;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(),
                                   options, &code_error, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(code_error, message, sizeof(message));
    *error = fmt::format("invalid regex '{}': {}", text, reinterpret_cast<const char*>(message));
    return nullptr;
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional speed-up; the interpreter still works
  return std::shared_ptr<const Code>(new Code{code});
}

Pattern Pattern::from_json(const JsonNode& node) {
  const auto members = node.members();
  if (members.size() != 1 || (members[0].first != "Regex" && members[0].first != "String"))
    node.fail("expected {\"Regex\": ...} or {\"String\": ...}");
  const JsonNode& value = members[0].second;
  std::string error;
  auto code = compile(value.str(), members[0].first == "String", &error);
  if (!code) value.fail(error);
  return Pattern(std::move(code));
}

Pattern Pattern::literal(const std::string& text) {
  std::string error;
  auto code = compile(text, true, &error);
  if (!code) fail("tokenizer: {}", error);
  return Pattern(std::move(code));
}

Pattern Pattern::regex(const std::string& regex) {
  std::string error;
  auto code = compile(regex, false, &error);
  if (!code) fail("tokenizer: {}", error);
  return Pattern(std::move(code));
}

void Pattern::for_each_span(std::string_view text,
                            const std::function<void(const Span&)>& visit) const {
  if (text.empty()) return visit({0, 0, false});
  MatchData data(code_->code);
  // The search loop of the `onig` crate's find_iter: an empty match right where the previous
  // match ended is skipped by moving on one character, which is what keeps the loop finite.
  size_t search_from = 0, previous = 0;
  std::optional<size_t> last_match_end;
  while (search_from <= text.size()) {
    auto match = data.search(code_->code, text, search_from);
    if (!match) break;
    const auto [begin, end] = *match;
    if (begin == end && last_match_end == end) {
      const size_t step = search_from < text.size() ? utf8::sequence_length(text, search_from) : 1;
      search_from += step > 0 ? step : 1;
      continue;
    }
    search_from = last_match_end.emplace(end);
    if (previous != begin) visit({previous, begin, false});
    visit({begin, end, true});
    previous = end;
  }
  if (previous != text.size()) visit({previous, text.size(), false});
}

std::string Pattern::replace_all(std::string_view text, std::string_view content) const {
  std::string out;
  out.reserve(text.size());
  for_each_span(text, [&](const Span& span) {
    if (span.is_match)
      out.append(content);
    else
      out.append(text.substr(span.begin, span.end - span.begin));
  });
  return out;
}

}  // namespace gradpool::tok
