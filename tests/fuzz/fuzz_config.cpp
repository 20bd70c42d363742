// libFuzzer target: config.json parsing on arbitrary bytes. A config that parses must describe a
// buildable model: positive sizes, hidden size divisible by the head count.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "config/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const auto config = tokenscope::parseModelConfig(text, "fuzz/config.json");
        if (config.family == tokenscope::ModelFamily::Vilt) {
            const auto& v = config.vilt;
            if (v.hiddenSize <= 0 || v.numAttentionHeads <= 0 || v.hiddenSize % v.numAttentionHeads != 0) std::abort();
            if (v.patchSize <= 0 || v.imageSize % v.patchSize != 0) std::abort();
        } else {
            const auto& c = config.clipVision;
            if (c.hiddenSize <= 0 || c.numAttentionHeads <= 0 || c.hiddenSize % c.numAttentionHeads != 0) std::abort();
        }
    } catch (const tokenscope::Error&) {
    }
    return 0;
}
