#pragma once

// Core-internal: LLaVA-NeXT's AnyRes image preprocessing (transformers v4.45
// LlavaNextImageProcessor) with the PIL-exact bicubic resizer, and the processor's image token
// count. All sizes are (height, width) as in the config's image_grid_pinpoints.

#include <array>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "image/pil_resample.h"

namespace tokenscope {

// preprocessor_config.json of LlavaNextImageProcessor. Defaults are the llava-hf 336 px ones.
struct AnyResConfig {
    std::vector<std::pair<int, int>> gridPinpoints{{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};
    int shortestEdge = 336;  // size.shortest_edge: the base image is squashed to this square
    int cropHeight = 336, cropWidth = 336;  // crop_size: the tile size and the per-crop center crop
    bool doResize = true, doCenterCrop = true, doRescale = true, doNormalize = true, doPad = true;
    double rescaleFactor = 1.0 / 255.0;
    std::array<float, 3> imageMean{0.48145466f, 0.4578275f, 0.40821073f};
    std::array<float, 3> imageStd{0.26862954f, 0.26130258f, 0.27577711f};
    ResampleFilter resample = ResampleFilter::Bicubic;
};

// Parses / reads preprocessor_config.json; unknown keys are ignored, wrong types are an Error
// naming the key and file. Throws Error.
AnyResConfig parseAnyResConfig(const std::string& jsonText, const std::string& fileName);
AnyResConfig loadAnyResConfig(const std::string& path);

// select_best_resolution: the pinpoint that keeps the most effective pixels after an
// aspect-preserving downscale (int() of each side), ties to the least wasted area, then the first.
std::pair<int, int> selectBestResolution(int height, int width, const std::vector<std::pair<int, int>>& pinpoints);

// _get_patch_output_size: the aspect-preserving size (ceil, capped by the target) that fits the target.
std::pair<int, int> patchOutputSize(int height, int width, int targetHeight, int targetWidth);

// The uint8 crops before the per-crop CLIP pipeline: [base (the whole image squashed to
// shortestEdge²), tile(0,0), tile(0,1), ...] row-major. The tiles come from the aspect-preserving
// resize centred on a black canvas padded by (target - new) // 2 on both sides, so an odd remainder
// leaves the canvas 1 px short and the last row / column of tiles narrower.
// Throws Error unless the image is 3-channel RGB with a positive size.
std::vector<ImageU8> anyResCrops(const ImageU8& image, const AnyResConfig& config);

// One crop through resize (shortest edge) -> center crop -> rescale -> normalise:
// [3, cropHeight, cropWidth] float32, computed as numpy does it (f64 rescale cast to f32, then
// (x - mean) / std in f32).
torch::Tensor preprocessCrop(const ImageU8& crop, const AnyResConfig& config);

struct AnyResBatch {
    torch::Tensor pixelValues;    // [images, max crops, 3, cropHeight, cropWidth] float32, zero-padded along crops
    torch::Tensor imageSizes;     // [images, 2] int64 original (height, width)
    std::vector<int> cropCounts;  // real crops per image, base included
};

// The whole processor for a batch of RGB images. Throws Error.
AnyResBatch preprocessAnyRes(const std::vector<ImageU8>& images, const AnyResConfig& config);

// LlavaNextProcessor._get_number_of_features (integer math): how many <image> tokens an image of
// (height, width) expands to: unpadded grid + one newline per row + (imageSize / patchSize)².
// fullStrategy adds the CLS token ("full" vision_feature_select_strategy).
int llavaNextImageTokenCount(int height, int width, const std::vector<std::pair<int, int>>& pinpoints, int imageSize,
                             int patchSize, bool fullStrategy = false);

}  // namespace tokenscope
