// UTF-8 helpers for the tokenizer: decoding, validation, and Rust's from_utf8_lossy, which the
// byte-level decoder needs to match `tokenizers` on byte sequences that are not valid text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace gradpool::tok::utf8 {

// Length of the valid UTF-8 sequence at `pos`, or 0 when the bytes there are not one.
size_t sequence_length(std::string_view text, size_t pos);

// Byte offset of the first invalid sequence, or nullopt when `text` is valid UTF-8.
std::optional<size_t> find_invalid(std::string_view text);

// `bytes` with each maximal invalid subpart replaced by U+FFFD, as Rust's String::from_utf8_lossy.
std::string lossy(std::string_view bytes);

// Code point of the (valid) sequence at `pos`; `length` receives its byte length.
char32_t decode(std::string_view text, size_t pos, size_t* length);
// Start of the last code point of the (valid) `text`, which must not be empty.
size_t last_char_start(std::string_view text);
void append(std::string& out, char32_t c);

// Rust's char::is_whitespace (the Unicode White_Space property).
bool is_whitespace(char32_t c);

}  // namespace gradpool::tok::utf8
