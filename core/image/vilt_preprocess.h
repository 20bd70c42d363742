#pragma once

// Core-internal: ViltImageProcessor (transformers v4.45) with a bit-exact PIL resize and torch ops
// for rescaling, normalising and batch padding.

#include <array>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "image/pil_resample.h"

namespace tokenscope {

struct ViltPreprocessConfig {
    bool doResize = true;
    int shortestEdge = 384;
    int sizeDivisor = 32;
    double rescaleFactor = 1.0 / 255.0;
    std::array<float, 3> mean{0.5f, 0.5f, 0.5f};
    std::array<float, 3> std{0.5f, 0.5f, 0.5f};
};

// Reads preprocessor_config.json (keys size / shortest_edge, size_divisor, image_mean, image_std,
// do_resize, rescale_factor). Throws Error naming the file and key.
ViltPreprocessConfig loadViltPreprocessConfig(const std::string& path);

struct PixelBatch {
    torch::Tensor pixelValues;  // [B, 3, H, W] float32, zero-padded bottom/right to the batch max
    torch::Tensor pixelMask;    // [B, H, W] int64, 1 on real pixels
    std::vector<std::array<int, 2>> resizedHw;  // each image's size after resize
};

// images must be RGB (3 channels). The result lives on device.
PixelBatch preprocessVilt(const std::vector<ImageU8>& images, const ViltPreprocessConfig& config,
                          const torch::Device& device = torch::kCPU);

}  // namespace tokenscope
