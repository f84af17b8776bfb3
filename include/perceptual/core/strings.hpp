#pragma once
// Comma-separated lists, as layer names travel on command lines and in weight-file metadata.
#include <sstream>
#include <string>
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

}  // namespace perceptual
