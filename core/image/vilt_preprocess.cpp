#include "image/vilt_preprocess.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/json_file.h"

namespace tokenscope {

ViltPreprocessConfig loadViltPreprocessConfig(const std::string& path) {
    const auto json = readJsonObjectFile(path, "the preprocessor config");
    ViltPreprocessConfig config;
    try {
        if (json.contains("do_resize")) config.doResize = json.at("do_resize").get<bool>();
        if (json.contains("size")) {
            const auto& size = json.at("size");
            config.shortestEdge = size.is_object() ? size.at("shortest_edge").get<int>() : size.get<int>();
        }
        if (json.contains("size_divisor")) config.sizeDivisor = json.at("size_divisor").get<int>();
        if (json.contains("rescale_factor")) config.rescaleFactor = json.at("rescale_factor").get<double>();
        if (json.contains("image_mean")) config.mean = json.at("image_mean").get<std::array<float, 3>>();
        if (json.contains("image_std")) config.std = json.at("image_std").get<std::array<float, 3>>();
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": a key has the wrong type (" + e.what() + ")");
    }
    if (config.shortestEdge <= 0 || config.sizeDivisor <= 0) throw Error(path + ": size and size_divisor must be positive");
    for (float s : config.std) {
        if (s == 0.0f) throw Error(path + ": image_std must not be 0");
    }
    return config;
}

PixelBatch preprocessVilt(const std::vector<ImageU8>& images, const ViltPreprocessConfig& config,
                          const torch::Device& device) {
    if (images.empty()) throw Error("no image to preprocess");
    std::vector<torch::Tensor> normalized;
    PixelBatch batch;
    int maxH = 0, maxW = 0;
    for (const auto& image : images) {
        if (image.channels != 3) throw Error("the image processor needs RGB images (3 channels)");
        ImageU8 resized = image;
        if (config.doResize) {
            const auto [h, w] = viltResizeSize(image.height, image.width, config.shortestEdge, config.sizeDivisor);
            resized = resizePil(image, w, h);
        }
        auto u8 = torch::from_blob(resized.pixels.data(), {resized.height, resized.width, 3}, torch::kUInt8);
        // As transformers computes it: float32(float64(u8) * factor), then (x - mean) / std in float32.
        auto x = (u8.to(torch::kDouble) * config.rescaleFactor).to(torch::kFloat).permute({2, 0, 1});  // [3, H, W]
        auto mean = torch::tensor(std::vector<float>(config.mean.begin(), config.mean.end())).view({3, 1, 1});
        auto std = torch::tensor(std::vector<float>(config.std.begin(), config.std.end())).view({3, 1, 1});
        normalized.push_back(((x - mean) / std).contiguous());
        batch.resizedHw.push_back({resized.height, resized.width});
        maxH = std::max(maxH, resized.height);
        maxW = std::max(maxW, resized.width);
    }
    const auto count = static_cast<int64_t>(images.size());
    batch.pixelValues = torch::zeros({count, 3, maxH, maxW});
    batch.pixelMask = torch::zeros({count, maxH, maxW}, torch::kLong);
    for (int64_t i = 0; i < count; ++i) {
        const auto [h, w] = batch.resizedHw[i];
        batch.pixelValues[i].slice(1, 0, h).slice(2, 0, w).copy_(normalized[i]);
        batch.pixelMask[i].slice(0, 0, h).slice(1, 0, w).fill_(1);
    }
    batch.pixelValues = batch.pixelValues.to(device);
    batch.pixelMask = batch.pixelMask.to(device);
    return batch;
}

}  // namespace tokenscope
