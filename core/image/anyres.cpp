#include "image/anyres.h"

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "common/error.h"
#include "io/json_file.h"

namespace tokenscope {

namespace {

using Json = nlohmann::json;

int positiveInt(const Json& object, const char* key, const std::string& where) {
    const Json& value = object.at(key);
    if (!value.is_number_integer() || value.get<int64_t>() <= 0 || value.get<int64_t>() > 100'000)
        throw Error(where + ": key '" + std::string(key) + "' must be a positive integer, not " + value.dump());
    return value.get<int>();
}

bool flag(const Json& object, const char* key, bool fallback, const std::string& where) {
    if (!object.contains(key) || object.at(key).is_null()) return fallback;
    if (!object.at(key).is_boolean()) throw Error(where + ": key '" + std::string(key) + "' must be true or false");
    return object.at(key).get<bool>();
}

std::array<float, 3> triple(const Json& object, const char* key, std::array<float, 3> fallback, const std::string& where) {
    if (!object.contains(key) || object.at(key).is_null()) return fallback;
    const Json& value = object.at(key);
    if (!value.is_array() || value.size() != 3 || !value.at(0).is_number() || !value.at(1).is_number() || !value.at(2).is_number())
        throw Error(where + ": key '" + std::string(key) + "' must be a list of three numbers");
    return {value.at(0).get<float>(), value.at(1).get<float>(), value.at(2).get<float>()};
}

ImageU8 cropImage(const ImageU8& image, int top, int left, int height, int width) {
    ImageU8 out{width, height, image.channels, {}};
    out.pixels.resize(static_cast<std::size_t>(width) * height * image.channels);
    const std::size_t rowBytes = static_cast<std::size_t>(width) * image.channels;
    for (int y = 0; y < height; ++y) {
        const auto* source = image.pixels.data() + (static_cast<std::size_t>(top + y) * image.width + left) * image.channels;
        std::copy(source, source + rowBytes, out.pixels.data() + y * rowBytes);
    }
    return out;
}

// Copies image onto a black (zero) canvas of (height, width) at (top, left).
ImageU8 pasteOnBlack(const ImageU8& image, int height, int width, int top, int left) {
    ImageU8 out{width, height, image.channels, {}};
    out.pixels.assign(static_cast<std::size_t>(width) * height * image.channels, 0);
    const std::size_t rowBytes = static_cast<std::size_t>(image.width) * image.channels;
    for (int y = 0; y < image.height; ++y) {
        const auto* source = image.pixels.data() + y * rowBytes;
        std::copy(source, source + rowBytes,
                  out.pixels.data() + (static_cast<std::size_t>(top + y) * width + left) * image.channels);
    }
    return out;
}

int floorDiv(int a, int b) { return static_cast<int>(std::floor(static_cast<double>(a) / b)); }

void requireRgb(const ImageU8& image) {
    if (image.channels != 3 || image.width <= 0 || image.height <= 0 ||
        image.pixels.size() != static_cast<std::size_t>(image.width) * image.height * 3)
        throw Error("LLaVA-NeXT preprocessing needs a non-empty 3-channel RGB image (convert and composite alpha first)");
}

}  // namespace

AnyResConfig parseAnyResConfig(const std::string& jsonText, const std::string& fileName) {
    const Json json = parseJsonText(jsonText, fileName);
    if (!json.is_object()) throw Error(fileName + ": not a JSON object");
    AnyResConfig config;
    if (json.contains("image_grid_pinpoints")) {
        const Json& pins = json.at("image_grid_pinpoints");
        if (!pins.is_array() || pins.empty()) throw Error(fileName + ": key 'image_grid_pinpoints' must be a non-empty list");
        config.gridPinpoints.clear();
        for (const Json& pin : pins) {
            if (!pin.is_array() || pin.size() != 2 || !pin.at(0).is_number_integer() || !pin.at(1).is_number_integer() ||
                pin.at(0).get<int64_t>() <= 0 || pin.at(1).get<int64_t>() <= 0)
                throw Error(fileName + ": key 'image_grid_pinpoints' has the entry " + pin.dump() +
                            "; each must be [height, width] with positive integers");
            config.gridPinpoints.emplace_back(pin.at(0).get<int>(), pin.at(1).get<int>());
        }
    }
    if (json.contains("size")) {
        const Json& size = json.at("size");
        if (!size.is_object() || !size.contains("shortest_edge"))
            throw Error(fileName + ": key 'size' must be {\"shortest_edge\": n}");
        config.shortestEdge = positiveInt(size, "shortest_edge", fileName + " (size)");
    }
    if (json.contains("crop_size")) {
        const Json& crop = json.at("crop_size");
        if (!crop.is_object() || !crop.contains("height") || !crop.contains("width"))
            throw Error(fileName + ": key 'crop_size' must be {\"height\": h, \"width\": w}");
        config.cropHeight = positiveInt(crop, "height", fileName + " (crop_size)");
        config.cropWidth = positiveInt(crop, "width", fileName + " (crop_size)");
    }
    config.doResize = flag(json, "do_resize", config.doResize, fileName);
    config.doCenterCrop = flag(json, "do_center_crop", config.doCenterCrop, fileName);
    config.doRescale = flag(json, "do_rescale", config.doRescale, fileName);
    config.doNormalize = flag(json, "do_normalize", config.doNormalize, fileName);
    config.doPad = flag(json, "do_pad", config.doPad, fileName);
    if (json.contains("rescale_factor")) {
        if (!json.at("rescale_factor").is_number()) throw Error(fileName + ": key 'rescale_factor' must be a number");
        config.rescaleFactor = json.at("rescale_factor").get<double>();
    }
    config.imageMean = triple(json, "image_mean", config.imageMean, fileName);
    config.imageStd = triple(json, "image_std", config.imageStd, fileName);
    if (json.contains("resample")) {
        const Json& value = json.at("resample");
        // PIL numbering: 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING (0 NEAREST is not offered).
        const int r = value.is_number_integer() ? value.get<int>() : -1;
        switch (r) {
            case 1: config.resample = ResampleFilter::Lanczos; break;
            case 2: config.resample = ResampleFilter::Bilinear; break;
            case 3: config.resample = ResampleFilter::Bicubic; break;
            case 4: config.resample = ResampleFilter::Box; break;
            case 5: config.resample = ResampleFilter::Hamming; break;
            default: throw Error(fileName + ": key 'resample' = " + value.dump() + " is not supported (1..5)");
        }
    }
    return config;
}

AnyResConfig loadAnyResConfig(const std::string& path) {
    return parseAnyResConfig(readTextFile(path, "the preprocessor config"), path);
}

std::pair<int, int> selectBestResolution(int height, int width, const std::vector<std::pair<int, int>>& pinpoints) {
    if (pinpoints.empty()) throw Error("image_grid_pinpoints is empty");
    std::pair<int, int> best = pinpoints.front();
    int64_t maxEffective = 0;
    double minWasted = std::numeric_limits<double>::infinity();
    for (const auto& [h, w] : pinpoints) {
        const double scale = std::min(static_cast<double>(w) / width, static_cast<double>(h) / height);
        const auto downWidth = static_cast<int64_t>(width * scale), downHeight = static_cast<int64_t>(height * scale);
        const int64_t effective = std::min(downWidth * downHeight, static_cast<int64_t>(width) * height);
        const double wasted = static_cast<double>(static_cast<int64_t>(w) * h - effective);
        if (effective > maxEffective || (effective == maxEffective && wasted < minWasted)) {
            maxEffective = effective;
            minWasted = wasted;
            best = {h, w};
        }
    }
    return best;
}

std::pair<int, int> patchOutputSize(int height, int width, int targetHeight, int targetWidth) {
    const double scaleWidth = static_cast<double>(targetWidth) / width;
    const double scaleHeight = static_cast<double>(targetHeight) / height;
    if (scaleWidth < scaleHeight) {
        return {std::min(static_cast<int>(std::ceil(height * scaleWidth)), targetHeight), targetWidth};
    }
    return {targetHeight, std::min(static_cast<int>(std::ceil(width * scaleHeight)), targetWidth)};
}

std::vector<ImageU8> anyResCrops(const ImageU8& image, const AnyResConfig& config) {
    requireRgb(image);
    const auto [targetHeight, targetWidth] = selectBestResolution(image.height, image.width, config.gridPinpoints);
    const auto [newHeight, newWidth] = patchOutputSize(image.height, image.width, targetHeight, targetWidth);
    const ImageU8 resized = resizePil(image, newWidth, newHeight, config.resample);
    // Symmetric (target - new) // 2 on each side: an odd remainder leaves the canvas 1 px short.
    const int padTop = (targetHeight - newHeight) / 2, padLeft = (targetWidth - newWidth) / 2;
    const ImageU8 canvas = pasteOnBlack(resized, newHeight + 2 * padTop, newWidth + 2 * padLeft, padTop, padLeft);

    std::vector<ImageU8> crops;
    crops.push_back(resizePil(image, config.shortestEdge, config.shortestEdge, config.resample));  // squashed base
    for (int top = 0; top < canvas.height; top += config.cropHeight) {
        for (int left = 0; left < canvas.width; left += config.cropWidth) {
            crops.push_back(cropImage(canvas, top, left, std::min(config.cropHeight, canvas.height - top),
                                      std::min(config.cropWidth, canvas.width - left)));
        }
    }
    return crops;
}

torch::Tensor preprocessCrop(const ImageU8& crop, const AnyResConfig& config) {
    ImageU8 image = crop;
    if (config.doResize) {
        // get_resize_output_image_size(default_to_square=False): shorter side -> shortestEdge,
        // longer side int(shortestEdge * long / short).
        const bool portrait = image.width <= image.height;
        const int shortSide = portrait ? image.width : image.height, longSide = portrait ? image.height : image.width;
        const int newShort = config.shortestEdge;
        const int newLong = static_cast<int>(static_cast<double>(newShort) * longSide / shortSide);
        image = portrait ? resizePil(image, newShort, newLong, config.resample)
                         : resizePil(image, newLong, newShort, config.resample);
    }
    if (config.doCenterCrop) {
        const int top = floorDiv(image.height - config.cropHeight, 2), left = floorDiv(image.width - config.cropWidth, 2);
        if (top >= 0 && left >= 0) {
            image = cropImage(image, top, left, config.cropHeight, config.cropWidth);
        } else {
            // Smaller than the crop: centre it on a black canvas first (HF's center_crop padding path).
            const int height = std::max(config.cropHeight, image.height), width = std::max(config.cropWidth, image.width);
            const int padTop = (height - image.height) / 2, padLeft = (width - image.width) / 2;
            const ImageU8 canvas = pasteOnBlack(image, height, width, padTop, padLeft);
            image = cropImage(canvas, std::max(0, top + padTop), std::max(0, left + padLeft), config.cropHeight, config.cropWidth);
        }
    }
    auto pixels = torch::from_blob(const_cast<uint8_t*>(image.pixels.data()), {image.height, image.width, 3}, torch::kUInt8)
                      .permute({2, 0, 1});  // [3, H, W] uint8
    torch::Tensor values = config.doRescale ? (pixels.to(torch::kDouble) * config.rescaleFactor).to(torch::kFloat)
                                            : pixels.to(torch::kFloat);
    if (config.doNormalize) {
        const auto mean = torch::tensor(std::vector<float>(config.imageMean.begin(), config.imageMean.end())).view({3, 1, 1});
        const auto std = torch::tensor(std::vector<float>(config.imageStd.begin(), config.imageStd.end())).view({3, 1, 1});
        values = (values - mean) / std;
    }
    return values.contiguous();  // [3, cropHeight, cropWidth]
}

AnyResBatch preprocessAnyRes(const std::vector<ImageU8>& images, const AnyResConfig& config) {
    if (images.empty()) throw Error("LLaVA-NeXT preprocessing got no images");
    std::vector<torch::Tensor> perImage;
    AnyResBatch batch;
    std::vector<int64_t> sizes;
    for (const auto& image : images) {
        std::vector<torch::Tensor> crops;
        for (const auto& crop : anyResCrops(image, config)) crops.push_back(preprocessCrop(crop, config));
        perImage.push_back(torch::stack(crops));  // [k, 3, h, w]
        batch.cropCounts.push_back(static_cast<int>(crops.size()));
        sizes.push_back(image.height);
        sizes.push_back(image.width);
    }
    const int maxCrops = *std::max_element(batch.cropCounts.begin(), batch.cropCounts.end());
    batch.pixelValues = torch::zeros({static_cast<int64_t>(images.size()), maxCrops, 3, config.cropHeight, config.cropWidth});
    for (std::size_t i = 0; i < perImage.size(); ++i) {
        if (!config.doPad && batch.cropCounts[i] != maxCrops)
            throw Error("LLaVA-NeXT preprocessing: do_pad is false but the images have different crop counts");
        batch.pixelValues[static_cast<int64_t>(i)].slice(0, 0, batch.cropCounts[i]).copy_(perImage[i]);
    }
    batch.imageSizes = torch::tensor(sizes, torch::kLong).view({-1, 2});
    return batch;
}

int llavaNextImageTokenCount(int height, int width, const std::vector<std::pair<int, int>>& pinpoints, int imageSize,
                             int patchSize, bool fullStrategy) {
    if (height <= 0 || width <= 0 || imageSize <= 0 || patchSize <= 0) throw Error("image token count: sizes must be positive");
    const auto [bestHeight, bestWidth] = selectBestResolution(height, width, pinpoints);
    const int patches = imageSize / patchSize;
    int currentHeight = patches * (bestHeight / imageSize), currentWidth = patches * (bestWidth / imageSize);
    // Integer math, as the processor: w/h > cw/ch  <=>  w·ch > cw·h.
    if (static_cast<int64_t>(width) * currentHeight > static_cast<int64_t>(currentWidth) * height) {
        const int newHeight = static_cast<int>(static_cast<int64_t>(height) * currentWidth / width);
        currentHeight -= 2 * ((currentHeight - newHeight) / 2);
    } else {
        const int newWidth = static_cast<int>(static_cast<int64_t>(width) * currentHeight / height);
        currentWidth -= 2 * ((currentWidth - newWidth) / 2);
    }
    return currentHeight * currentWidth + currentHeight + patches * patches + (fullStrategy ? 1 : 0);
}

}  // namespace tokenscope
