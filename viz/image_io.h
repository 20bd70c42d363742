#pragma once

// Image files in and out, with OpenCV; core never decodes files itself.

#include <string>

#include "image/pil_resample.h"

namespace tokenscope {

// Largest side accepted as it is; larger images are downscaled to it (with a note).
constexpr int kMaxImageSide = 8192;

struct LoadedImage {
    ImageU8 image;     // RGB, EXIF orientation applied, alpha dropped, grey expanded to RGB
    std::string note;  // non-empty when the image was changed on load (e.g. downscaled)
};

// Decodes PNG, JPEG, BMP, WebP (whatever OpenCV reads). Throws Error naming the file: missing,
// unreadable, not an image, or too large to decode.
LoadedImage loadImageFile(const std::string& path);

// Writes an RGB or RGBA image; the format follows the extension. Throws Error.
void saveImageFile(const std::string& path, const ImageU8& image);

}  // namespace tokenscope
