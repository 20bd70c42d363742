#include "engine/version.h"

#include <torch/version.h>

#include <torch/cuda.h>

namespace tokenscope {

std::string versionString() {
    std::string text = "TokenScope 0.1.0 (LibTorch " TORCH_VERSION;
    text += torch::cuda::is_available() ? ", CUDA)" : ", CPU)";
    return text;
}

}  // namespace tokenscope
