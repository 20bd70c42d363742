#pragma once

// tokenscope-cli convert: a model folder in any format TokenScope reads (safetensors, sharded
// safetensors, pytorch_model.bin, a METER Lightning .ckpt) written as one model.safetensors under
// the checkpoint's own tensor names, beside a config.json (the folder's own, or for METER one with
// model_type "meter" holding the config the checkpoint implied) and the tokenizer and processor
// files, so the next load memory-maps instead of unpickling. Nothing is executed or downloaded.

#include <cstdint>
#include <string>
#include <vector>

namespace tokenscope {

struct ConvertReport {
    std::size_t tensors = 0;
    uint64_t bytes = 0;                // of model.safetensors
    std::vector<std::string> copied;   // the other files written into the new folder
};

// Throws Error naming the file when the source does not load, when `out` is the source folder or
// already holds a model.safetensors.
ConvertReport convertModelFolder(const std::string& folder, const std::string& out);

}  // namespace tokenscope
