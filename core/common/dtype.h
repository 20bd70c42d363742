#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokenscope {

// Element types a checkpoint can hold. Names follow safetensors ("F32", "BF16", ...).
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

std::size_t dtypeSize(DType dtype);
std::string_view dtypeName(DType dtype);
// Parses a safetensors dtype name; nullopt when unknown or unsupported.
std::optional<DType> parseDtypeName(std::string_view name);

// Where one tensor's bytes lie inside a file, before any torch object exists. Produced by the
// safetensors header parser and the pytorch_model.bin unpickler; torch-free so that both can be
// fuzzed on their own.
struct TensorInfo {
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::vector<int64_t> strides;  // in elements; always filled (contiguous for safetensors)
    uint64_t byteOffset = 0;       // from the start of the file to element [0, 0, ...]
    uint64_t byteLength = 0;       // bytes from byteOffset that the tensor may touch (storage rest)
};

int64_t numel(const std::vector<int64_t>& shape);
std::vector<int64_t> contiguousStrides(const std::vector<int64_t>& shape);

}  // namespace tokenscope
