#include "common/dtype.h"

#include <array>
#include <utility>

namespace tokenscope {

namespace {
struct DtypeEntry {
    DType dtype;
    std::string_view name;
    std::size_t size;
};
constexpr std::array<DtypeEntry, 10> kDtypes{{
    {DType::F64, "F64", 8},
    {DType::F32, "F32", 4},
    {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8},
    {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},
    {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},
    {DType::Bool, "BOOL", 1},
}};
}  // namespace

std::size_t dtypeSize(DType dtype) {
    for (const auto& entry : kDtypes) {
        if (entry.dtype == dtype) return entry.size;
    }
    return 0;
}

std::string_view dtypeName(DType dtype) {
    for (const auto& entry : kDtypes) {
        if (entry.dtype == dtype) return entry.name;
    }
    return "?";
}

std::optional<DType> parseDtypeName(std::string_view name) {
    for (const auto& entry : kDtypes) {
        if (entry.name == name) return entry.dtype;
    }
    return std::nullopt;
}

int64_t numel(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::vector<int64_t> contiguousStrides(const std::vector<int64_t>& shape) {
    std::vector<int64_t> strides(shape.size(), 1);
    for (std::size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
    return strides;
}

}  // namespace tokenscope
