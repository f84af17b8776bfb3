#pragma once
// Reads the CSV files the programs write (training logs, eval_sr, speed_table, objective).
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace perceptual::testing {

// The fields of one CSV line; a field in double quotes may hold commas ("cpu (OpenBLAS, 2
// threads)") and is returned without its quotes.
inline std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (char c : line) {
    if (c == '"')
      quoted = !quoted;
    else if (c == ',' && !quoted)
      fields.emplace_back();
    else
      fields.back() += c;
  }
  return fields;
}

// Every line of the file as its fields (no lines for a missing file).
inline std::vector<std::vector<std::string>> read_csv(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(csv_fields(line));
  return rows;
}

}  // namespace perceptual::testing
