#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace tokenscope {

// Interleaved 8-bit image, row-major, no row padding: pixel (x, y) channel c lives at
// pixels[(y * width + x) * channels + c]. channels is 1..4 (RGB = 3). Plain struct, torch-free;
// decoding (QImage / OpenCV) happens outside core and fills it.
struct ImageU8 {
    int width = 0;
    int height = 0;
    int channels = 3;
    std::vector<uint8_t> pixels;  // height * width * channels bytes
};

// The filters of Pillow's ImagingResample (Image.Resampling.BOX ... LANCZOS). NEAREST is not
// offered: Pillow runs it through a different code path (an affine transform).
enum class ResampleFilter { Box, Bilinear, Hamming, Bicubic, Lanczos };

// Resizes like Pillow 9.x `Image.resize((width, height), resample=filter)` with reducing_gap=None
// and the full image as box: the separable fixed-point resampler of libImaging/Resample.c
// (horizontal pass first, then vertical, a pass skipped when its dimension is unchanged; 22-bit
// coefficients; results clipped to 0..255 after each pass). The output is bit-identical to Pillow
// for 8-bit "L" / "RGB" images (verified against fixtures for Bicubic; the other filters share
// every line except the kernel). Channels are resampled independently: an alpha channel is NOT
// premultiplied the way Image.resize treats mode "RGBA"/"LA", so composite or convert first.
// Same size in and out returns a copy. Single-threaded; cost is about
// height_in * width_out * taps + width_out * height_out * taps multiply-adds per channel.
// Throws Error when a size is not positive, channels is outside 1..4, or pixels.size() does not
// match width * height * channels.
ImageU8 resizePil(const ImageU8& image, int width, int height,
                  ResampleFilter filter = ResampleFilter::Bicubic);

// ViltImageProcessor's resize target (transformers 4.45 `get_resize_output_image_size`) for an
// image of (height, width): scale the shorter side to shortestEdge, cap the longer side at
// int(1333 / 800 * shortestEdge) scaling both, round each side with int(x + 0.5) and floor it to a
// multiple of sizeDivisor. Evaluated in double in the same order as the Python code, so the
// rounding agrees. Returns (height, width). Throws Error for non-positive arguments and when a side
// would come out 0 (an image too elongated to be resized under this rule).
std::pair<int, int> viltResizeSize(int height, int width, int shortestEdge = 384,
                                   int sizeDivisor = 32);

}  // namespace tokenscope
