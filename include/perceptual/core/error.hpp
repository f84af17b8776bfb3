#pragma once
// The library's exceptions: every failure a user can cause is one of these, with a message that
// names where it happened, what was expected and what was found.
#include <stdexcept>
#include <string>

namespace perceptual {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A tensor of the wrong shape reached a layer, a loss or a weights file.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A file is missing, unreadable, truncated or not in the expected format.
class FileError : public Error {
 public:
  using Error::Error;
};

// An option or argument outside what an operation can do.
class ArgumentError : public Error {
 public:
  using Error::Error;
};

}  // namespace perceptual
