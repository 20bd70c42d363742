#pragma once

// Core-internal: named torch tensors to and from safetensors files (the CLI's forward/preprocess
// files, test fixtures).

#include <map>
#include <string>

#include <torch/types.h>

namespace tokenscope {

// Reads every tensor of a safetensors file into owned CPU tensors. Throws Error.
std::map<std::string, torch::Tensor> readTensorFile(const std::string& path);
// Writes tensors (moved to the CPU, made contiguous). Throws Error.
void writeTensorFile(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                     const std::map<std::string, std::string>& metadata = {});

}  // namespace tokenscope
