#pragma once

// Test support: an 8-bit RGB image file decoded with Qt (the fixture PNGs), as core's ImageU8.

#include <stdexcept>
#include <string>

#include <QImage>

#include "image/pil_resample.h"

namespace tokenscope::test {

inline ImageU8 loadRgbImage(const std::string& path) {
    QImage image(QString::fromStdString(path));
    if (image.isNull()) throw std::runtime_error(path + ": cannot read");
    image = image.convertToFormat(QImage::Format_RGB888);
    ImageU8 result{image.width(), image.height(), 3, {}};
    for (int y = 0; y < image.height(); ++y) {
        const auto* row = image.constScanLine(y);
        result.pixels.insert(result.pixels.end(), row, row + image.width() * 3);
    }
    return result;
}

}  // namespace tokenscope::test
