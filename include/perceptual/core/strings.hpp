#pragma once
// Text forms of settings, as they travel on command lines and in weight-file metadata: comma-separated
// lists, and numbers written so that they read back exactly.
#include <charconv>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace perceptual {

// "a,b,,c" -> {"a", "b", "c"}.
inline std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// {"a", "b"} -> "a,b".
inline std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out;
}

// The shortest text that reads back as exactly v (std::to_chars): "1e-06", "0.001", "255", "0.1".
inline std::string number_text(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// The number a whole text spells ("1e-4", "0.5", "3"), or nullopt (empty, trailing characters, out of range).
inline std::optional<double> parse_number(const std::string& text) {
  double v = 0;
  const char* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, v);
  if (text.empty() || r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return v;
}

}  // namespace perceptual
