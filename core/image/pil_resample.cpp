#include "image/pil_resample.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

// Bit-exactness with Pillow depends on evaluating the kernels and the coefficient arithmetic in
// double, in the same order as libImaging/Resample.c, without fused multiply-adds. The build
// compiles this file with -ffp-contract=off for that reason.

namespace tokenscope {
namespace {

// 8 bits of result plus 2 bits of headroom for kernels with negative lobes (sums may leave 0..1).
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kRoundingHalf = 1 << (kPrecisionBits - 1);
constexpr double kPi = 3.14159265358979323846;

double boxKernel(double x) {
    return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
}

double bilinearKernel(double x) {
    x = std::fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

double hammingKernel(double x) {
    x = std::fabs(x);
    if (x == 0.0) {
        return 1.0;
    }
    if (x >= 1.0) {
        return 0.0;
    }
    x = x * kPi;
    // Pillow writes the window constants as float literals; they widen to double here too.
    return std::sin(x) / x * (static_cast<double>(0.54f) + static_cast<double>(0.46f) * std::cos(x));
}

double bicubicKernel(double x) {
    constexpr double a = -0.5;  // Keys' cubic convolution, as in Pillow
    x = std::fabs(x);
    if (x < 1.0) {
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    }
    if (x < 2.0) {
        return (((x - 5) * x + 8) * x - 4) * a;
    }
    return 0.0;
}

double sinc(double x) {
    if (x == 0.0) {
        return 1.0;
    }
    x = x * kPi;
    return std::sin(x) / x;
}

double lanczosKernel(double x) {
    if (-3.0 <= x && x < 3.0) {
        return sinc(x) * sinc(x / 3);
    }
    return 0.0;
}

struct Kernel {
    double (*evaluate)(double x);
    double support;
};

Kernel kernelFor(ResampleFilter filter) {
    switch (filter) {
    case ResampleFilter::Box:
        return {boxKernel, 0.5};
    case ResampleFilter::Bilinear:
        return {bilinearKernel, 1.0};
    case ResampleFilter::Hamming:
        return {hammingKernel, 1.0};
    case ResampleFilter::Bicubic:
        return {bicubicKernel, 2.0};
    case ResampleFilter::Lanczos:
        return {lanczosKernel, 3.0};
    }
    throw Error("resizePil: unknown resample filter " + std::to_string(static_cast<int>(filter)));
}

// Fixed-point weights of one 1-D pass: output sample i reads count[i] input samples starting at
// first[i] with weights[i * taps + 0 .. count[i]).
struct PassCoefficients {
    int taps = 0;
    std::vector<int> first;
    std::vector<int> count;
    std::vector<int32_t> weights;
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for box = [0, inSize).
PassCoefficients precomputeCoefficients(int inSize, int outSize, const Kernel& kernel) {
    // The box edges are floats in Pillow; their difference is taken in float before widening.
    const float boxBegin = 0.0f;
    const float boxEnd = static_cast<float>(inSize);
    const double scale = static_cast<double>(boxEnd - boxBegin) / outSize;
    const double filterScale = scale < 1.0 ? 1.0 : scale;
    const double support = kernel.support * filterScale;

    PassCoefficients result;
    result.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
    result.first.resize(static_cast<std::size_t>(outSize));
    result.count.resize(static_cast<std::size_t>(outSize));
    result.weights.assign(static_cast<std::size_t>(outSize) * static_cast<std::size_t>(result.taps), 0);

    std::vector<double> weights(static_cast<std::size_t>(result.taps));
    for (int out = 0; out < outSize; ++out) {
        const double center = boxBegin + (out + 0.5) * scale;
        const double inverseScale = 1.0 / filterScale;
        // Truncating casts round the window ends exactly as Pillow does (negatives clamp to 0).
        int begin = static_cast<int>(center - support + 0.5);
        begin = std::max(begin, 0);
        int end = static_cast<int>(center + support + 0.5);
        end = std::min(end, inSize);
        // Cannot exceed taps for these kernels; the clamp only guards the table.
        const int count = std::min(std::max(end - begin, 0), result.taps);

        double sum = 0.0;
        for (int x = 0; x < count; ++x) {
            const double w = kernel.evaluate((x + begin - center + 0.5) * inverseScale);
            weights[static_cast<std::size_t>(x)] = w;
            sum += w;
        }
        int32_t* fixed = &result.weights[static_cast<std::size_t>(out) * static_cast<std::size_t>(result.taps)];
        for (int x = 0; x < count; ++x) {
            double w = weights[static_cast<std::size_t>(x)];
            if (sum != 0.0) {
                w /= sum;
            }
            // Round half away from zero, through a truncating cast, as normalize_coeffs_8bpc.
            fixed[x] = w < 0 ? static_cast<int32_t>(-0.5 + w * (1 << kPrecisionBits))
                             : static_cast<int32_t>(0.5 + w * (1 << kPrecisionBits));
        }
        result.first[static_cast<std::size_t>(out)] = begin;
        result.count[static_cast<std::size_t>(out)] = count;
    }
    return result;
}

// Pillow's clip8 table covers sums from -640 to 639 after the shift, i.e. a plain clamp.
inline uint8_t clip8(int32_t accumulator) {
    const int32_t value = accumulator >> kPrecisionBits;  // arithmetic shift, as in C on gcc/clang
    return static_cast<uint8_t>(value < 0 ? 0 : (value > 255 ? 255 : value));
}

// Horizontal pass over input rows [rowBegin, rowBegin + rowCount) into rowCount output rows.
template <int Channels>
void resampleHorizontal(const uint8_t* input, int inWidth, int rowBegin, int rowCount,
                        const PassCoefficients& coefficients, uint8_t* output, int outWidth) {
    const std::size_t inRowBytes = static_cast<std::size_t>(inWidth) * Channels;
    const std::size_t outRowBytes = static_cast<std::size_t>(outWidth) * Channels;
    const std::size_t taps = static_cast<std::size_t>(coefficients.taps);
    for (int row = 0; row < rowCount; ++row) {
        const uint8_t* in = input + static_cast<std::size_t>(rowBegin + row) * inRowBytes;
        uint8_t* out = output + static_cast<std::size_t>(row) * outRowBytes;
        for (int x = 0; x < outWidth; ++x) {
            const int32_t* weights = &coefficients.weights[static_cast<std::size_t>(x) * taps];
            const uint8_t* source = in + static_cast<std::size_t>(coefficients.first[static_cast<std::size_t>(x)]) * Channels;
            const int count = coefficients.count[static_cast<std::size_t>(x)];
            int32_t sums[Channels];
            for (int c = 0; c < Channels; ++c) {
                sums[c] = kRoundingHalf;
            }
            for (int t = 0; t < count; ++t) {
                const int32_t w = weights[t];
                for (int c = 0; c < Channels; ++c) {
                    sums[c] += static_cast<int32_t>(source[t * Channels + c]) * w;
                }
            }
            for (int c = 0; c < Channels; ++c) {
                out[static_cast<std::size_t>(x) * Channels + c] = clip8(sums[c]);
            }
        }
    }
}

// Vertical pass: every byte of a row uses the same weights, so channels need no special case.
// Integer sums are exact, so accumulating a whole row per tap gives Pillow's results while
// reading the input row by row.
void resampleVertical(const uint8_t* input, std::size_t rowBytes, const PassCoefficients& coefficients,
                      int outHeight, uint8_t* output) {
    std::vector<int32_t> sums(rowBytes);
    const std::size_t taps = static_cast<std::size_t>(coefficients.taps);
    for (int y = 0; y < outHeight; ++y) {
        std::fill(sums.begin(), sums.end(), kRoundingHalf);
        const int32_t* weights = &coefficients.weights[static_cast<std::size_t>(y) * taps];
        const int first = coefficients.first[static_cast<std::size_t>(y)];
        const int count = coefficients.count[static_cast<std::size_t>(y)];
        for (int t = 0; t < count; ++t) {
            const uint8_t* in = input + static_cast<std::size_t>(first + t) * rowBytes;
            const int32_t w = weights[t];
            int32_t* sum = sums.data();
            for (std::size_t i = 0; i < rowBytes; ++i) {
                sum[i] += static_cast<int32_t>(in[i]) * w;
            }
        }
        uint8_t* out = output + static_cast<std::size_t>(y) * rowBytes;
        for (std::size_t i = 0; i < rowBytes; ++i) {
            out[i] = clip8(sums[i]);
        }
    }
}

void resampleHorizontalAny(int channels, const uint8_t* input, int inWidth, int rowBegin, int rowCount,
                           const PassCoefficients& coefficients, uint8_t* output, int outWidth) {
    switch (channels) {
    case 1:
        resampleHorizontal<1>(input, inWidth, rowBegin, rowCount, coefficients, output, outWidth);
        break;
    case 2:
        resampleHorizontal<2>(input, inWidth, rowBegin, rowCount, coefficients, output, outWidth);
        break;
    case 3:
        resampleHorizontal<3>(input, inWidth, rowBegin, rowCount, coefficients, output, outWidth);
        break;
    default:
        resampleHorizontal<4>(input, inWidth, rowBegin, rowCount, coefficients, output, outWidth);
        break;
    }
}

void validateImage(const ImageU8& image) {
    if (image.width <= 0 || image.height <= 0) {
        throw Error("resizePil: input image is " + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + " (width and height must be positive)");
    }
    if (image.channels < 1 || image.channels > 4) {
        throw Error("resizePil: input image has " + std::to_string(image.channels) +
                    " channels (1 to 4 supported)");
    }
    const std::size_t expected = static_cast<std::size_t>(image.width) *
                                 static_cast<std::size_t>(image.height) *
                                 static_cast<std::size_t>(image.channels);
    if (image.pixels.size() != expected) {
        throw Error("resizePil: input image " + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + "x" + std::to_string(image.channels) + " needs " +
                    std::to_string(expected) + " bytes, pixel buffer has " +
                    std::to_string(image.pixels.size()));
    }
}

}  // namespace

ImageU8 resizePil(const ImageU8& image, int width, int height, ResampleFilter filter) {
    validateImage(image);
    if (width <= 0 || height <= 0) {
        throw Error("resizePil: target size " + std::to_string(width) + "x" + std::to_string(height) +
                    " (width and height must be positive)");
    }
    const Kernel kernel = kernelFor(filter);
    const int channels = image.channels;

    ImageU8 result;
    result.width = width;
    result.height = height;
    result.channels = channels;

    const bool needsHorizontal = width != image.width;
    const bool needsVertical = height != image.height;
    if (!needsHorizontal && !needsVertical) {
        result.pixels = image.pixels;
        return result;
    }

    // Pillow computes the vertical weights first so that the horizontal pass only produces the
    // input rows the vertical pass will read.
    PassCoefficients vertical = precomputeCoefficients(image.height, height, kernel);
    const int firstRow = vertical.first.front();
    const int lastRow = vertical.first.back() + vertical.count.back();

    std::vector<uint8_t> intermediate;
    const uint8_t* verticalInput = image.pixels.data();
    if (needsHorizontal) {
        const PassCoefficients horizontal = precomputeCoefficients(image.width, width, kernel);
        const int rowCount = lastRow - firstRow;
        intermediate.resize(static_cast<std::size_t>(rowCount) * static_cast<std::size_t>(width) *
                            static_cast<std::size_t>(channels));
        resampleHorizontalAny(channels, image.pixels.data(), image.width, firstRow, rowCount, horizontal,
                              intermediate.data(), width);
        for (int& first : vertical.first) {
            first -= firstRow;
        }
        verticalInput = intermediate.data();
    }

    const std::size_t rowBytes = static_cast<std::size_t>(width) * static_cast<std::size_t>(channels);
    if (needsVertical) {
        result.pixels.resize(rowBytes * static_cast<std::size_t>(height));
        resampleVertical(verticalInput, rowBytes, vertical, height, result.pixels.data());
    } else {
        // Height unchanged: the horizontal pass covered every row and is the result.
        result.pixels = std::move(intermediate);
    }
    return result;
}

std::pair<int, int> viltResizeSize(int height, int width, int shortestEdge, int sizeDivisor) {
    if (height <= 0 || width <= 0) {
        throw Error("viltResizeSize: image size " + std::to_string(height) + "x" + std::to_string(width) +
                    " (height and width must be positive)");
    }
    if (shortestEdge <= 0 || sizeDivisor <= 0) {
        throw Error("viltResizeSize: shortest edge " + std::to_string(shortestEdge) + " and size divisor " +
                    std::to_string(sizeDivisor) + " must be positive");
    }
    // ViltImageProcessor.resize: longer = int(1333 / 800 * shorter).
    const int longest = static_cast<int>(1333.0 / 800.0 * shortestEdge);

    // get_resize_output_image_size, step by step in Python's float (double) order.
    const double minSize = shortestEdge;
    const double maxSize = longest;
    double scale = minSize / std::min(height, width);
    double newHeight = 0.0;
    double newWidth = 0.0;
    if (height < width) {
        newHeight = minSize;
        newWidth = scale * width;
    } else {
        newHeight = scale * height;
        newWidth = minSize;
    }
    if (std::max(newHeight, newWidth) > maxSize) {
        scale = maxSize / std::max(newHeight, newWidth);
        newHeight = scale * newHeight;
        newWidth = scale * newWidth;
    }
    const int roundedHeight = static_cast<int>(newHeight + 0.5);
    const int roundedWidth = static_cast<int>(newWidth + 0.5);
    const int outHeight = roundedHeight / sizeDivisor * sizeDivisor;
    const int outWidth = roundedWidth / sizeDivisor * sizeDivisor;
    if (outHeight <= 0 || outWidth <= 0) {
        throw Error("viltResizeSize: image " + std::to_string(height) + "x" + std::to_string(width) +
                    " would resize to " + std::to_string(outHeight) + "x" + std::to_string(outWidth) +
                    " (shortest edge " + std::to_string(shortestEdge) + ", divisor " +
                    std::to_string(sizeDivisor) + "); it is too elongated");
    }
    return {outHeight, outWidth};
}

}  // namespace tokenscope
