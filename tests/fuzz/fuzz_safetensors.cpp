// libFuzzer target: the safetensors header parser on arbitrary bytes. Beyond "no crash", every
// accepted tensor must lie inside the buffer with a byte length that matches its shape and dtype.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "checkpoint/safetensors.h"
#include "common/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    try {
        const auto header = tokenscope::parseSafetensors(data, size, "fuzz.safetensors");
        for (const auto& [name, info] : header.tensors) {
            const uint64_t bytes = static_cast<uint64_t>(tokenscope::numel(info.shape)) * tokenscope::dtypeSize(info.dtype);
            if (info.byteLength != bytes || info.byteOffset > size || info.byteLength > size - info.byteOffset) std::abort();
            volatile uint8_t sink = 0;
            if (bytes > 0) sink = data[info.byteOffset + bytes - 1];  // ASan flags any read outside
            (void)sink;
        }
    } catch (const tokenscope::Error&) {
    }
    return 0;
}
