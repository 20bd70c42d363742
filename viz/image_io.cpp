#include "viz/image_io.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"

namespace tokenscope {

LoadedImage loadImageFile(const std::string& path) {
    {
        std::ifstream probe(path, std::ios::binary);
        if (!probe) throw Error(path + ": cannot open the image: " + std::strerror(errno));
        char first = 0;
        if (!probe.get(first)) throw Error(path + ": the image file is empty");
    }
    cv::Mat bgr;
    try {
        // IMREAD_COLOR applies the EXIF orientation, expands grey to three channels and drops
        // alpha, as PIL's convert("RGB") does.
        bgr = cv::imread(path, cv::IMREAD_COLOR);
    } catch (const cv::Exception& e) {
        throw Error(path + ": cannot decode the image (" + e.err + ")");
    }
    if (bgr.empty()) throw Error(path + ": not an image in a supported format (PNG, JPEG, BMP, WebP), or damaged");

    LoadedImage result;
    if (bgr.cols > kMaxImageSide || bgr.rows > kMaxImageSide) {
        const double scale = static_cast<double>(kMaxImageSide) / std::max(bgr.cols, bgr.rows);
        const cv::Size size(std::max(1, static_cast<int>(bgr.cols * scale)), std::max(1, static_cast<int>(bgr.rows * scale)));
        result.note = path + ": " + std::to_string(bgr.cols) + "x" + std::to_string(bgr.rows) +
                      " is larger than " + std::to_string(kMaxImageSide) + " px a side; downscaled to " +
                      std::to_string(size.width) + "x" + std::to_string(size.height);
        cv::resize(bgr, bgr, size, 0, 0, cv::INTER_AREA);
    }
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    result.image.width = rgb.cols;
    result.image.height = rgb.rows;
    result.image.channels = 3;
    result.image.pixels.resize(static_cast<std::size_t>(rgb.cols) * rgb.rows * 3);
    for (int y = 0; y < rgb.rows; ++y) {
        std::memcpy(result.image.pixels.data() + static_cast<std::size_t>(y) * rgb.cols * 3, rgb.ptr(y),
                    static_cast<std::size_t>(rgb.cols) * 3);
    }
    return result;
}

void saveImageFile(const std::string& path, const ImageU8& image) {
    if (image.channels != 3 && image.channels != 4) throw Error(path + ": can only write RGB or RGBA images");
    cv::Mat source(image.height, image.width, image.channels == 3 ? CV_8UC3 : CV_8UC4,
                   const_cast<uint8_t*>(image.pixels.data()));
    cv::Mat bgr;
    cv::cvtColor(source, bgr, image.channels == 3 ? cv::COLOR_RGB2BGR : cv::COLOR_RGBA2BGRA);
    bool ok = false;
    try {
        ok = cv::imwrite(path, bgr);
    } catch (const cv::Exception& e) {
        throw Error(path + ": cannot write the image (" + e.err + ")");
    }
    if (!ok) throw Error(path + ": cannot write the image (unknown extension or unwritable folder)");
}

}  // namespace tokenscope
