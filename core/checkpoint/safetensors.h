#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/dtype.h"

namespace tokenscope {

// The validated header of one safetensors file. Tensor byte offsets are from the start of the file.
struct SafetensorsHeader {
    std::map<std::string, TensorInfo> tensors;
    std::map<std::string, std::string> metadata;  // "__metadata__", e.g. {"format": "pt"}
    uint64_t dataOffset = 0;                      // 8 + header length
};

// Largest header accepted (the reference reader's limit).
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// Parses and validates a safetensors file held in memory: header length bounded, JSON an object,
// every entry with a known dtype, non-negative shape, [begin, end) inside the data section, end -
// begin equal to numel x element size, no two tensors overlapping. fileName is used in messages.
// Throws Error.
SafetensorsHeader parseSafetensors(const uint8_t* bytes, std::size_t size, const std::string& fileName);

// One tensor to write: contiguous little-endian bytes of numel(shape) x dtypeSize(dtype).
struct SafetensorsEntry {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    const void* data = nullptr;
};

// Writes a standard safetensors file (header padded with spaces to a multiple of 8, tensors
// sorted by descending alignment then name, contiguous). Throws Error naming the path on failure.
void writeSafetensors(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace tokenscope
