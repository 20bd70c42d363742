#pragma once

#include <stdexcept>
#include <string>

namespace tokenscope {

// Every error the engine reports to a user. The message is one line that names the file (or the
// input) and the problem, e.g. "model.safetensors: tensor 'x' ends at byte 900 past the end of the
// file (812 bytes)". Callers show what() as it is.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown when a cancel flag was raised during a long operation (loading, forward).
class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled") {}
};

}  // namespace tokenscope
