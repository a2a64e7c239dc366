#include "worker/train/utf8.h"

namespace gradpool::tok::utf8 {

namespace {

bool in(unsigned char byte, unsigned char low, unsigned char high) {
  return byte >= low && byte <= high;
}

// How many bytes at `pos` form a prefix of some valid sequence (at least 1), and whether that
// prefix is a whole sequence. This is the "maximal subpart" rule of Unicode §3.9 and Rust.
size_t valid_prefix(std::string_view text, size_t pos, bool* complete) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  *complete = false;
  size_t need = 0;
  unsigned char low = 0x80, high = 0xBF;  // range of the second byte
  if (lead < 0x80) {
    *complete = true;
    return 1;
  } else if (in(lead, 0xC2, 0xDF)) {
    need = 1;
  } else if (in(lead, 0xE0, 0xEF)) {
    need = 2;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (in(lead, 0xF0, 0xF4)) {
    need = 3;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 1;
  }
  size_t length = 1;
  for (; length <= need; ++length) {
    if (pos + length >= text.size()) return length;
    const auto byte = static_cast<unsigned char>(text[pos + length]);
    if (length == 1 ? !in(byte, low, high) : !in(byte, 0x80, 0xBF)) return length;
  }
  *complete = true;
  return length;
}

}  // namespace

size_t sequence_length(std::string_view text, size_t pos) {
  bool complete;
  const size_t length = valid_prefix(text, pos, &complete);
  return complete ? length : 0;
}

std::optional<size_t> find_invalid(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = sequence_length(text, pos);
    if (length == 0) return pos;
    pos += length;
  }
  return std::nullopt;
}

std::string lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t pos = 0; pos < bytes.size();) {
    bool complete;
    const size_t length = valid_prefix(bytes, pos, &complete);
    if (complete)
      out.append(bytes.substr(pos, length));
    else
      out += "\xEF\xBF\xBD";
    pos += length;
  }
  return out;
}

char32_t decode(std::string_view text, size_t pos, size_t* length) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  *length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (*length == 1) return lead;
  char32_t c = lead & (0x7F >> *length);
  for (size_t i = 1; i < *length; ++i)
    c = (c << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
  return c;
}

size_t last_char_start(std::string_view text) {
  size_t pos = text.size() - 1;
  while (pos > 0 && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

void append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool is_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

}  // namespace gradpool::tok::utf8
