#pragma once

// ToMe's per-layer merge counts (facebookresearch/ToMe tome/utils.py parse_r), torch-free.

#include <cstdint>
#include <vector>

namespace tokenscope {

// The per-layer r for `layers` blocks: r·(1 - inflect) rising linearly to r·(1 + inflect).
std::vector<int64_t> tomeSchedule(int64_t layers, int64_t r, double inflect = 0.0);
// Explicit list, zero-padded (or truncated) to `layers`.
std::vector<int64_t> tomeSchedule(int64_t layers, const std::vector<int64_t>& perLayer);

}  // namespace tokenscope
