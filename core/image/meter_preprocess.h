#pragma once

// Core-internal: METER's image transform (zdou0830/METER meter/transforms/transform.py
// `clip_transform`, torchvision 0.8) and PuMer's (csarron/PuMer src/pumer/utils/image_utils.py
// `get_image_transforms(is_clip=True)`), with Pillow's bicubic resampler reproduced bit for bit
// (image/pil_resample.h).
//
//  * ShorterSideThenCrop (METER): Resize(size) = the shorter side to `size`, the longer side
//    int(size · long / short) (truncated; an image whose shorter side already equals size is not
//    resampled), PIL bicubic; CenterCrop(size) with top = int(round((h - size) / 2)), left likewise
//    (Python's round: half to even); ToTensor (÷ 255 in float32); Normalize with CLIP mean / std.
//  * Squash (PuMer): Resize([size, size]) (aspect ratio not kept), PIL bicubic, then the same crop
//    (a no-op), ToTensor, Normalize.
// METER opens images as RGBA and resizes with premultiplied alpha; for opaque images that equals
// resizing RGB, which is what this does (core receives RGB8; alpha was dropped by the decoder).

#include <array>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "image/pil_resample.h"

namespace tokenscope {

enum class MeterResizeStyle { ShorterSideThenCrop, Squash };

struct MeterPreprocessConfig {
    int size = 384;  // the model's image size (576 VQA, 288 NLVR2, 384 SNLI-VE / retrieval)
    MeterResizeStyle style = MeterResizeStyle::ShorterSideThenCrop;
    std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
    std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};
};

// torchvision 0.8 Resize(size) target for an image of (height, width): returns (height, width).
// Throws Error for non-positive arguments.
std::pair<int, int> meterResizeSize(int height, int width, int size);
// CenterCrop's (top, left) for an image of (height, width) cropped to size × size (may be negative:
// torchvision then pads, which a shorter-side resize never needs).
std::pair<int, int> meterCropOffset(int height, int width, int size);

// RGB images (3 channels) -> pixel_values [B, 3, size, size] float32 on device. Throws Error for
// other channel counts or empty input.
torch::Tensor preprocessMeter(const std::vector<ImageU8>& images, const MeterPreprocessConfig& config,
                              const torch::Device& device = torch::kCPU);

}  // namespace tokenscope
