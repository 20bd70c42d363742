#include "reduce/hired.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include <torch/torch.h>

#include "common/error.h"
#include "image/anyres.h"

namespace tokenscope {

namespace {

// Python's int(round(x, 7)) for non-negative x (transformers PR #35779).
int64_t truncateRounded7(double x) { return static_cast<int64_t>(std::nearbyint(x * 1e7) / 1e7); }

TokenSelection emptySelection(int partitions, int tokens) {
    TokenSelection s;
    s.masks = torch::zeros({partitions, tokens}, torch::kBool);
    s.budgets.assign(static_cast<std::size_t>(partitions), 0);
    s.shares.assign(static_cast<std::size_t>(partitions), 0.0);
    return s;
}

// Marks the top k of scores [N] in row `partition` of masks (torch::topk, as the reference).
void markTopK(torch::Tensor& masks, int partition, const torch::Tensor& scores, int64_t k) {
    if (k <= 0) return;
    const auto indices = std::get<1>(scores.topk(std::min<int64_t>(k, scores.size(0))));
    masks[partition].index_fill_(0, indices, true);
}

// Paper mode: how much of full-image token t (a 1/p × 1/p cell of the image) lies in each tile's
// region of the image, times its attention, summed per tile.
std::vector<double> regionShares(const torch::Tensor& initialFull, const PartitionGeometry& g) {
    const int p = g.patchGrid;
    const auto scores = initialFull.to(torch::kCPU, torch::kDouble).contiguous();
    const double* a = scores.data_ptr<double>();
    const double padTop = (g.canvasHeight - g.resizedHeight) / 2;  // the canvas pads by (target - new) // 2
    const double padLeft = (g.canvasWidth - g.resizedWidth) / 2;
    const auto overlap = [](double a0, double a1, double b0, double b1) { return std::max(0.0, std::min(a1, b1) - std::max(a0, b0)); };
    std::vector<double> shares;
    for (int r = 0; r < g.rows; ++r) {
        for (int c = 0; c < g.columns; ++c) {
            // The tile's square of the canvas in normalised image coordinates.
            const double v0 = (r * g.tileSize - padTop) / g.resizedHeight, v1 = ((r + 1) * g.tileSize - padTop) / g.resizedHeight;
            const double u0 = (c * g.tileSize - padLeft) / g.resizedWidth, u1 = ((c + 1) * g.tileSize - padLeft) / g.resizedWidth;
            double sum = 0.0;
            for (int i = 0; i < p; ++i) {
                const double rowPart = overlap(v0, v1, double(i) / p, double(i + 1) / p) * p;
                if (rowPart <= 0.0) continue;
                for (int j = 0; j < p; ++j) {
                    const double part = rowPart * overlap(u0, u1, double(j) / p, double(j + 1) / p) * p;
                    if (part > 0.0) sum += a[i * p + j] * part;
                }
            }
            shares.push_back(sum);
        }
    }
    return shares;
}

}  // namespace

PartitionGeometry partitionGeometry(int height, int width, const std::vector<std::pair<int, int>>& pinpoints,
                                    int tileSize, int patchSize) {
    if (height <= 0 || width <= 0) throw Error("image size must be positive, not " + std::to_string(height) + "x" + std::to_string(width));
    if (tileSize <= 0 || patchSize <= 0 || tileSize % patchSize != 0)
        throw Error("tile size " + std::to_string(tileSize) + " is not a multiple of the patch size " + std::to_string(patchSize));
    PartitionGeometry g;
    const auto [canvasHeight, canvasWidth] = selectBestResolution(height, width, pinpoints);
    g.imageHeight = height;
    g.imageWidth = width;
    g.tileSize = tileSize;
    g.patchGrid = tileSize / patchSize;
    g.canvasHeight = canvasHeight;
    g.canvasWidth = canvasWidth;
    g.rows = canvasHeight / tileSize;
    g.columns = canvasWidth / tileSize;
    const auto [resizedHeight, resizedWidth] = patchOutputSize(height, width, canvasHeight, canvasWidth);
    g.resizedHeight = resizedHeight;
    g.resizedWidth = resizedWidth;
    return g;
}

std::array<double, 4> partitionRectangle(const PartitionGeometry& g, int partition) {
    if (partition == 0) return {0.0, 0.0, double(g.imageWidth), double(g.imageHeight)};
    const int tile = partition - 1, r = tile / g.columns, c = tile % g.columns;
    const double padTop = (g.canvasHeight - g.resizedHeight) / 2, padLeft = (g.canvasWidth - g.resizedWidth) / 2;
    const double sy = double(g.imageHeight) / g.resizedHeight, sx = double(g.imageWidth) / g.resizedWidth;
    return {(c * g.tileSize - padLeft) * sx, (r * g.tileSize - padTop) * sy, g.tileSize * sx, g.tileSize * sy};
}

UnpadBox unpadBox(int64_t currentHeight, int64_t currentWidth, int64_t height, int64_t width, UnpadRounding rounding) {
    const double originalAspect = static_cast<double>(width) / static_cast<double>(height);
    const double currentAspect = static_cast<double>(currentWidth) / static_cast<double>(currentHeight);
    const auto size = [&](double x) { return rounding == UnpadRounding::Rounded ? truncateRounded7(x) : static_cast<int64_t>(x); };
    if (originalAspect > currentAspect) {
        const int64_t newHeight = size(height * (static_cast<double>(currentWidth) / width));
        // Python floor division; an odd difference keeps one more row.
        const auto padding = static_cast<int64_t>(std::floor((currentHeight - newHeight) / 2.0));
        return {padding, currentHeight - padding, 0, currentWidth};
    }
    const int64_t newWidth = size(width * (static_cast<double>(currentHeight) / height));
    const auto padding = static_cast<int64_t>(std::floor((currentWidth - newWidth) / 2.0));
    return {0, currentHeight, padding, currentWidth - padding};
}

TokenSelection keepAllSelect(int partitions, int tokens) {
    auto s = emptySelection(partitions, tokens);
    s.masks.fill_(true);
    std::fill(s.budgets.begin(), s.budgets.end(), tokens);
    s.totalBudget = partitions * tokens;
    s.fullImageBudget = tokens;
    s.tilesBudget = (partitions - 1) * tokens;
    return s;
}

TokenSelection hiredSelect(const torch::Tensor& clsInitial, const torch::Tensor& clsFinal, const PartitionGeometry& g,
                           double budget, double alpha, HiredMode mode) {
    const int n = g.partitions(), tokens = g.tokensPerPartition();
    if (clsInitial.dim() != 2 || clsInitial.size(0) != n || clsInitial.size(1) != tokens || clsFinal.sizes() != clsInitial.sizes())
        throw Error("HiRED needs CLS attention [" + std::to_string(n) + ", " + std::to_string(tokens) + "] of both layers for this image");
    if (!(budget >= 0.0)) throw Error("HiRED budget must be a number >= 0");
    if (!(alpha >= 0.0 && alpha <= 1.0)) throw Error("HiRED alpha must lie in [0, 1]");
    if (budget >= 1.0) return keepAllSelect(n, tokens);
    const auto initial = clsInitial.to(torch::kCPU, torch::kFloat);
    const auto final = clsFinal.to(torch::kCPU, torch::kFloat);

    auto s = emptySelection(n, tokens);
    // Python: int(num_patch * num_vision_tokens * token_budget_rate), int(total * alpha).
    s.totalBudget = static_cast<int>(static_cast<double>(n * tokens) * budget);
    if (n == 1) {
        s.fullImageBudget = std::min(s.totalBudget, tokens);
    } else {
        s.fullImageBudget = std::min(static_cast<int>(s.totalBudget * alpha), tokens);
        s.tilesBudget = std::min(s.totalBudget - s.fullImageBudget, (n - 1) * tokens);
    }
    s.budgets[0] = s.fullImageBudget;
    markTopK(s.masks, 0, final[0], s.fullImageBudget);
    if (s.tilesBudget <= 0) return s;

    const int tiles = n - 1;
    std::vector<double> shares;
    if (mode == HiredMode::Paper) {
        shares = regionShares(initial[0], g);
    } else {
        // Flags: the top int(N·(1-alpha)) tokens; the reference reshapes the N-vector into
        // (columns, rows, N/k) and sums the last axis: consecutive N/k chunks, whatever the grid.
        s.flaggedTokens = static_cast<int>(tokens * (1.0 - alpha));
        auto flags = torch::zeros({tokens}, torch::kBool);
        if (s.flaggedTokens > 0) flags.index_fill_(0, std::get<1>(initial[0].topk(s.flaggedTokens)), true);
        const auto flagged = flags.to(torch::kLong);
        for (int i = 0; i < tiles; ++i) {
            // Where N is not a multiple of k the reference's reshape fails; the chunks are then as even as possible.
            const int64_t begin = int64_t(i) * tokens / tiles, end = int64_t(i + 1) * tokens / tiles;
            shares.push_back(static_cast<double>(flagged.slice(0, begin, end).sum().item<int64_t>()));
        }
    }
    const double total = std::accumulate(shares.begin(), shares.end(), 0.0);
    for (int i = 0; i < tiles; ++i) {
        int tileBudget = 0;
        if (!(total > 0.0)) {
            tileBudget = s.tilesBudget / tiles;
        } else if (mode == HiredMode::Reference) {
            // float32 tensors in the reference: ratio = count / sum, (ratio * budget).int().
            const float ratio = static_cast<float>(shares[i]) / static_cast<float>(total);
            tileBudget = static_cast<int>(ratio * static_cast<float>(s.tilesBudget));
        } else {
            tileBudget = static_cast<int>(std::floor(s.tilesBudget * (shares[i] / total)));
        }
        tileBudget = std::min(tileBudget, tokens);
        s.budgets[i + 1] = tileBudget;
        s.shares[i + 1] = shares[i];
        markTopK(s.masks, i + 1, final[i + 1], tileBudget);
    }
    return s;
}

TokenSelection spatialSelect(int partitions, int tokens, double budget) {
    if (!(budget >= 0.0)) throw Error("spatial budget must be a number >= 0");
    if (budget >= 1.0) return keepAllSelect(partitions, tokens);
    auto s = emptySelection(partitions, tokens);
    const int count = static_cast<int>(tokens * budget);  // int(num_vision_tokens * spatial_budget)
    s.totalBudget = count * partitions;
    if (count <= 0) return s;
    const int gap = tokens / count;
    // torch.arange(0, N - 1, gap): the last token is never a candidate.
    const auto indices = torch::arange(0, tokens - 1, gap, torch::kLong);
    for (int i = 0; i < partitions; ++i) {
        s.masks[i].index_fill_(0, indices, true);
        s.budgets[static_cast<std::size_t>(i)] = count;
    }
    s.fullImageBudget = count;
    s.tilesBudget = count * (partitions - 1);
    return s;
}

TokenSelection randomSelect(int partitions, int tokens, double budget, uint64_t seed) {
    if (!(budget >= 0.0)) throw Error("random budget must be a number >= 0");
    if (budget >= 1.0) return keepAllSelect(partitions, tokens);
    auto s = emptySelection(partitions, tokens);
    const int count = static_cast<int>(tokens * budget);
    s.totalBudget = count * partitions;
    s.fullImageBudget = count;
    s.tilesBudget = count * (partitions - 1);
    std::mt19937_64 generator(seed);
    std::vector<int64_t> order(static_cast<std::size_t>(tokens));
    for (int i = 0; i < partitions; ++i) {
        std::iota(order.begin(), order.end(), 0);
        // Partial Fisher-Yates with the generator's raw output (std::uniform_int_distribution
        // differs between standard libraries).
        for (int j = 0; j < count; ++j) {
            const auto span = static_cast<uint64_t>(tokens - j);
            std::swap(order[j], order[j + static_cast<int>(generator() % span)]);
        }
        s.masks[i].index_fill_(0, torch::tensor(std::vector<int64_t>(order.begin(), order.begin() + count), torch::kLong), true);
        s.budgets[static_cast<std::size_t>(i)] = count;
    }
    return s;
}

PackOrder hiredPackOrder(const torch::Tensor& masks, const PartitionGeometry& g, HiredMode mode) {
    const int n = g.partitions(), tokens = g.tokensPerPartition(), p = g.patchGrid;
    if (masks.dim() != 2 || masks.size(0) != n || masks.size(1) != tokens)
        throw Error("token masks must be [" + std::to_string(n) + ", " + std::to_string(tokens) + "] for this image");
    const auto m = masks.to(torch::kCPU, torch::kBool).contiguous();
    const bool* keep = m.data_ptr<bool>();
    PackOrder order;
    order.keptPerPartition.resize(static_cast<std::size_t>(n));
    for (int t = 0; t < tokens; ++t) {
        if (!keep[t]) continue;
        order.flatIndices.push_back(t);
        order.keptPerPartition[0].push_back(t);
    }
    if (n == 1) return order;

    // Stitched grid: tile k at block (k / blockColumns, k % blockColumns) of a blockRows × blockColumns layout.
    const bool swapped = mode == HiredMode::Reference;
    const int blockRows = swapped ? g.columns : g.rows, blockColumns = swapped ? g.rows : g.columns;
    const int64_t height = int64_t(blockRows) * p, width = int64_t(blockColumns) * p;
    const auto box = unpadBox(height, width, g.imageHeight, g.imageWidth,
                              swapped ? UnpadRounding::Truncated : UnpadRounding::Rounded);
    for (int64_t y = box.rowBegin; y < box.rowEnd; ++y) {
        for (int64_t x = box.columnBegin; x < box.columnEnd; ++x) {
            const int tile = static_cast<int>((y / p) * blockColumns + x / p);
            const int token = static_cast<int>((y % p) * p + x % p);
            if (!keep[int64_t(tile + 1) * tokens + token]) continue;
            order.flatIndices.push_back(int64_t(tile + 1) * tokens + token);
            order.keptPerPartition[static_cast<std::size_t>(tile + 1)].push_back(token);
        }
    }
    for (auto& kept : order.keptPerPartition) std::sort(kept.begin(), kept.end());
    return order;
}

}  // namespace tokenscope
