#include "image/meter_preprocess.h"

#include <cmath>

#include "common/error.h"

namespace tokenscope {

namespace {

// Python's round() of a float that is a multiple of 0.5: ties to the even integer.
int roundHalfEvenInt(double value) {
    const double floor = std::floor(value);
    const double fraction = value - floor;
    if (fraction > 0.5) return static_cast<int>(floor) + 1;
    if (fraction < 0.5) return static_cast<int>(floor);
    const auto f = static_cast<long long>(floor);
    return static_cast<int>(f % 2 == 0 ? f : f + 1);
}

}  // namespace

std::pair<int, int> meterResizeSize(int height, int width, int size) {
    if (height <= 0 || width <= 0 || size <= 0) throw Error("METER resize: sizes must be positive");
    if ((width <= height && width == size) || (height <= width && height == size)) return {height, width};
    // torchvision 0.8 F_pil.resize: int(size * long / short), evaluated in Python floats.
    if (width < height) return {static_cast<int>(static_cast<double>(size) * height / width), size};
    return {size, static_cast<int>(static_cast<double>(size) * width / height)};
}

std::pair<int, int> meterCropOffset(int height, int width, int size) {
    return {roundHalfEvenInt((height - size) / 2.0), roundHalfEvenInt((width - size) / 2.0)};
}

torch::Tensor preprocessMeter(const std::vector<ImageU8>& images, const MeterPreprocessConfig& config, const torch::Device& device) {
    if (images.empty()) throw Error("no image to preprocess");
    if (config.size <= 0) throw Error("METER preprocess: the size must be positive");
    const int s = config.size;
    const auto mean = torch::tensor(std::vector<float>(config.mean.begin(), config.mean.end())).view({3, 1, 1});
    const auto std = torch::tensor(std::vector<float>(config.std.begin(), config.std.end())).view({3, 1, 1});
    std::vector<torch::Tensor> batch;
    for (const auto& image : images) {
        if (image.channels != 3) throw Error("the METER image transform needs RGB images (3 channels)");
        ImageU8 resized;
        if (config.style == MeterResizeStyle::Squash) {
            resized = image.width == s && image.height == s ? image : resizePil(image, s, s, ResampleFilter::Bicubic);
        } else {
            const auto [h, w] = meterResizeSize(image.height, image.width, s);
            resized = h == image.height && w == image.width ? image : resizePil(image, w, h, ResampleFilter::Bicubic);
        }
        const auto [top, left] = meterCropOffset(resized.height, resized.width, s);
        if (top < 0 || left < 0) throw Error("METER preprocess: the resized image is smaller than the crop");
        auto u8 = torch::from_blob(resized.pixels.data(), {resized.height, resized.width, 3}, torch::kUInt8);
        auto crop = u8.slice(0, top, top + s).slice(1, left, left + s).permute({2, 0, 1});  // [3, S, S]
        // ToTensor then Normalize, in float32 as torchvision computes them.
        batch.push_back(crop.to(torch::kFloat).div(255).sub(mean).div(std).contiguous());
    }
    return torch::stack(batch).to(device);  // [B, 3, S, S]
}

}  // namespace tokenscope
