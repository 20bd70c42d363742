#include "reduce/pumer_meter.h"

#include <algorithm>
#include <optional>

#include "common/error.h"
#include "engine/timeline.h"

namespace tokenscope {

namespace {

torch::Tensor identitySource(int64_t batch, int64_t tokens, const torch::TensorOptions& options) {
    // eye() has no bf16 kernel on the CPU (LibTorch 1.13): made in float32, then converted.
    const auto eye = torch::eye(tokens, options.dtype(torch::kFloat)).to(options.dtype());
    return eye.unsqueeze(0).expand({batch, tokens, tokens}).contiguous();  // [B, N, N]
}

torch::Tensor rowIndex(int64_t batch, int64_t length, const torch::TensorOptions& options) {
    return torch::arange(length, options.dtype(torch::kLong)).unsqueeze(0).expand({batch, length});  // [B, N]
}

void requireInput(const MeterReducerInput& in, bool needText) {
    if (!in.image.defined() || in.image.dim() != 3) throw Error("METER reducer: image must be [B, I, C]");
    if (!in.imageMask.defined() || in.imageMask.dim() != 2 || in.imageMask.size(1) != in.image.size(1))
        throw Error("METER reducer: imageMask must be [B, I]");
    if (needText) {
        if (!in.text.defined() || in.text.dim() != 3) throw Error("METER reducer: text must be [B, T, C]");
        if (!in.textMask.defined() || in.textMask.sizes() != in.text.sizes().slice(0, 2))
            throw Error("METER reducer: textMask must be [B, T]");
    }
}

// The output with nothing changed (counts of an untouched layer).
MeterReducerOutput passThrough(const MeterReducerInput& in) {
    MeterReducerOutput out;
    out.text = in.text;
    out.textMask = in.textMask;
    out.image = in.image;
    out.imageMask = in.imageMask;
    out.imageSize = in.imageSize;
    auto& c = out.record.counts;
    c.imageIn = c.imageOut = c.tokensKept = in.image.size(1);
    c.textIn = c.textOut = in.text.defined() ? in.text.size(1) : 0;
    out.record.imageSource = in.imageSource;
    out.record.textSource = in.textSource;
    return out;
}

void finishProvenance(ReductionRecord& record, bool provenance) {
    if (!provenance) return;
    record.imageSize = record.imageSource.sum(-1);
    record.textSize = record.textSource.sum(-1);
}

// SplitMix64 (Steele, Lea, Flood 2014): a fixed output for a fixed seed everywhere.
uint64_t splitMix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

}  // namespace

bool pumerMeterDiscardsPruning(int64_t imageTokens, const PumerConfig& config) {
    return config.mode == ReductionMode::Reference && config.pruneRatio > 0.0 &&
           roundHalfEven(config.mergeRatio * static_cast<double>(imageTokens)) <= 0;
}

PumerCounts pumerMeterCounts(int64_t imageTokens, int64_t textTokens, const PumerConfig& config) {
    PumerCounts c;
    c.imageIn = c.imageOut = c.tokensKept = imageTokens;
    c.textIn = c.textOut = textTokens;
    const bool reference = config.mode == ReductionMode::Reference;
    if (reference && !(config.pruneRatio > 0.0)) return c;  // the reference's ratio test
    const auto pruneRequested = roundHalfEven(config.pruneRatio * static_cast<double>(imageTokens));
    const auto pruned = reference ? imageTokens - std::max<int64_t>(imageTokens - pruneRequested, 1)
                                  : std::clamp<int64_t>(pruneRequested, 0, std::max<int64_t>(imageTokens - 1, 0));
    c.mergeRequested = roundHalfEven(config.mergeRatio * static_cast<double>(imageTokens));
    if (!(reference && c.mergeRequested <= 0)) {  // reference with no merge: the pruning is discarded
        c.tokensPruned = pruned;
        c.tokensKept = imageTokens - pruned;
        c.tokensMerged = std::max<int64_t>(0, std::min(c.mergeRequested, (c.tokensKept - 1) / 2));
        c.imageOut = c.tokensKept - c.tokensMerged;
    }
    c.textMergeRequested = roundHalfEven(static_cast<double>(textTokens) * config.textMergeRatio);
    c.textMerged = std::max<int64_t>(0, std::min(c.textMergeRequested, (textTokens - 1) / 2));
    c.textOut = textTokens - c.textMerged;
    return c;
}

torch::Tensor applyImageSelection(const MeterImageSelection& selection, const torch::Tensor& x) {
    auto y = selection.keptIndex.defined() ? selectRows(x, selection.keptIndex) : x;  // [B, kept, C]
    if (selection.match.r == 0) return y;
    if (!selection.weight.defined()) return mergeWeightedAverage(selection.match, y).x;
    return applyMerge(selection.match, y * selection.weight, MergeReduce::Sum) /
           applyMerge(selection.match, selection.weight, MergeReduce::Sum);  // [B, kept - r, C]
}

MeterReducerOutput pumerReduceMeter(const MeterReducerInput& in, const PumerConfig& config) {
    requireInput(in, true);
    const bool reference = config.mode == ReductionMode::Reference;
    const auto b = in.image.size(0);
    const auto imageTokens = in.image.size(1);
    const auto t = in.text.size(1);
    const auto counts = pumerMeterCounts(imageTokens, t, config);
    const bool pruneStep = reference ? config.pruneRatio > 0.0 : counts.tokensPruned > 0;
    if (!pruneStep && counts.mergeRequested <= 0 && counts.textMergeRequested <= 0) return passThrough(in);
    if (!in.textToImage.defined() || in.textToImage.dim() != 4 || in.textToImage.size(2) != t ||
        in.textToImage.size(3) != imageTokens)
        throw Error("PuMer (METER): textToImage must be [B, H, T, I]");

    const auto dtype = in.image.scalar_type();
    const auto options = in.image.options();
    MeterReducerOutput out;
    auto& record = out.record;
    record.counts = counts;
    record.isReduced = true;
    const bool provenance = in.recordProvenance;
    torch::Tensor imageSource, textSource;
    if (provenance) {
        imageSource = in.imageSource.defined() ? in.imageSource : identitySource(b, imageTokens, options);
        textSource = in.textSource.defined() ? in.textSource : identitySource(b, t, options);
    }
    auto textMask = in.textMask.to(dtype);  // [B, T]

    std::optional<TimelineSpanGuard> span(std::in_place, "reduce.score", Stage::Fusion, -1, true);
    // Text-informed importance of every image token: head mean, summed over the text queries,
    // divided by the (possibly fractional) valid text count. [B, I]
    const auto validText = textMask.sum(1, true);       // [B, 1]
    const auto rows = in.textToImage.mean(1);           // [B, T, I]
    const auto score = reference ? rows.sum(1) / validText : (rows * textMask.unsqueeze(-1)).sum(1) / validText;
    record.imageScore = score;

    span.reset();
    span.emplace("reduce.prune", Stage::Fusion, -1, true);
    if (reference) {
        const auto top = score.topk(std::max<int64_t>(imageTokens - roundHalfEven(config.pruneRatio * static_cast<double>(imageTokens)), 1),
                                    -1, true, true);
        record.keptScore = std::get<0>(top);  // [B, kept]
        record.keptIndex = std::get<1>(top);  // [B, kept]
    } else if (counts.tokensPruned > 0) {
        // The CLS stays first; the patches compete for the other places.
        const auto top = score.slice(1, 1).topk(counts.tokensKept - 1, -1, true, true);
        const auto cls = torch::zeros({b, 1}, options.dtype(torch::kLong));
        record.keptIndex = torch::cat({cls, std::get<1>(top) + 1}, 1);           // [B, kept]
        record.keptScore = torch::cat({score.slice(1, 0, 1), std::get<0>(top)}, 1);  // [B, kept]
    } else {
        record.keptIndex = rowIndex(b, imageTokens, options);
        record.keptScore = score;
    }

    auto image = in.image;
    auto imageMask = in.imageMask.to(dtype);
    out.isPruningDiscarded = reference && counts.mergeRequested <= 0;
    if (out.isPruningDiscarded) {
        record.imageOrigin = rowIndex(b, imageTokens, options);  // the reference keeps the unpruned states
    } else {
        image = selectRows(image, record.keptIndex);                                   // [B, kept, C]
        auto metric = selectRows(in.imageKeyMean, record.keptIndex);                   // [B, kept, dh]
        imageMask = imageMask.gather(1, record.keptIndex);                             // [B, kept]
        if (provenance) imageSource = selectRows(imageSource, record.keptIndex);      // [B, kept, I0]
        record.imageOrigin = record.keptIndex;
        out.selection.keptIndex = record.keptIndex;
        span.reset();
        span.emplace("reduce.merge_image", Stage::Fusion, -1, true);
        if (counts.mergeRequested > 0) {
            out.imageMatch = bipartiteSoftMatching(metric, counts.mergeRequested, /*classToken=*/true);
            const auto& match = out.imageMatch;
            if (match.r > 0) {
                std::tie(image, imageMask) = mergeWithMask(match, image, imageMask);  // equal weights: sizes are not carried
                record.imageMergeSource = 2 * match.sourceIndex;
                record.imageMergeDestination = 2 * match.destinationIndex + 1;
                record.imageOrigin = record.imageOrigin.gather(1, mergedOrigin(match));
                if (provenance) imageSource = mergeSource(match, image, imageSource);
            }
            out.selection.match = match;
        }
    }
    if (reference) imageMask = torch::ones({b, image.size(1)}, options);

    span.reset();
    span.emplace("reduce.merge_text", Stage::Fusion, -1, true);
    auto text = in.text;
    record.textOrigin = rowIndex(b, t, options);
    if (counts.textMergeRequested > 0) {
        out.textMatch = bipartiteSoftMatching(in.textKeyMean, counts.textMergeRequested, /*classToken=*/true);
        const auto& match = out.textMatch;
        if (match.r > 0) {
            std::tie(text, textMask) = mergeWithMask(match, text, textMask);  // fractional masks
            record.textMergeSource = 2 * match.sourceIndex;
            record.textMergeDestination = 2 * match.destinationIndex + 1;
            record.textOrigin = record.textOrigin.gather(1, mergedOrigin(match));
            if (provenance) textSource = mergeSource(match, text, textSource);
        }
    }
    span.reset();
    record.imageSource = imageSource;
    record.textSource = textSource;
    finishProvenance(record, provenance);
    out.text = text;
    out.textMask = textMask;
    out.image = image;
    out.imageMask = imageMask;
    return out;
}

MeterReducerOutput tomeReduceMeterImage(const MeterReducerInput& in, int64_t r) {
    requireInput(in, false);
    if (r <= 0) return passThrough(in);
    const auto b = in.image.size(0);
    const auto imageTokens = in.image.size(1);
    const auto options = in.image.options();
    const TimelineSpanGuard span("reduce.merge_image", Stage::Fusion, -1, true);
    auto match = bipartiteSoftMatching(in.imageKeyMean, r, /*classToken=*/true);
    if (match.r == 0) return passThrough(in);
    MeterReducerOutput out = passThrough(in);
    const auto size = in.imageSize.defined() ? in.imageSize : torch::ones({b, imageTokens, 1}, options);
    const auto merged = mergeWeightedAverage(match, in.image, size);
    out.image = merged.x;
    out.imageSize = merged.size;
    out.imageMask = applyMerge(match, in.imageMask.to(in.image.scalar_type()).unsqueeze(-1), MergeReduce::Amax).squeeze(-1);
    auto& record = out.record;
    record.isReduced = true;
    record.counts.mergeRequested = r;
    record.counts.tokensMerged = match.r;
    record.counts.imageOut = imageTokens - match.r;
    record.imageMergeSource = 2 * match.sourceIndex;
    record.imageMergeDestination = 2 * match.destinationIndex + 1;
    record.imageOrigin = mergedOrigin(match);
    if (in.text.defined()) record.textOrigin = rowIndex(b, in.text.size(1), options);
    if (in.recordProvenance) {
        record.imageSource = mergeSource(match, in.image, in.imageSource.defined() ? in.imageSource
                                                                                   : identitySource(b, imageTokens, options));
        record.textSource = in.textSource.defined() || !in.text.defined() ? in.textSource
                                                                          : identitySource(b, in.text.size(1), options);
        if (record.textSource.defined()) {
            finishProvenance(record, true);
        } else {
            record.imageSize = record.imageSource.sum(-1);
        }
    }
    out.imageMatch = match;
    out.selection.match = match;
    out.selection.weight = size;
    return out;
}

MeterReducerOutput dropMeterImage(const MeterReducerInput& in, MeterDropMethod method, double keepRatio, uint64_t seed) {
    requireInput(in, false);
    const auto b = in.image.size(0);
    const auto imageTokens = in.image.size(1);
    const auto patches = imageTokens - 1;
    if (keepRatio >= 1.0 || patches <= 1) return passThrough(in);
    const auto keep = std::clamp<int64_t>(roundHalfEven(keepRatio * static_cast<double>(patches)), 1, patches);
    std::vector<int64_t> chosen;
    if (method == MeterDropMethod::Uniform) {
        for (int64_t j = 0; j < keep; ++j) chosen.push_back(((2 * j + 1) * patches) / (2 * keep));  // floor((j + 0.5) P / k)
    } else {
        std::vector<int64_t> order(static_cast<std::size_t>(patches));
        for (int64_t i = 0; i < patches; ++i) order[static_cast<std::size_t>(i)] = i;
        uint64_t state = seed;
        for (int64_t j = 0; j < keep; ++j) {  // partial Fisher-Yates
            const auto pick = j + static_cast<int64_t>(splitMix64(state) % static_cast<uint64_t>(patches - j));
            std::swap(order[static_cast<std::size_t>(j)], order[static_cast<std::size_t>(pick)]);
        }
        chosen.assign(order.begin(), order.begin() + keep);
        std::sort(chosen.begin(), chosen.end());
    }
    std::vector<int64_t> index{0};
    for (const auto p : chosen) index.push_back(p + 1);
    const auto options = in.image.options();
    const auto keptIndex = torch::tensor(index, torch::kLong).to(in.image.device()).unsqueeze(0).expand({b, keep + 1});  // [B, 1 + k]

    MeterReducerOutput out = passThrough(in);
    out.image = selectRows(in.image, keptIndex);
    out.imageMask = in.imageMask.to(in.image.scalar_type()).gather(1, keptIndex);
    if (in.imageSize.defined()) out.imageSize = selectRows(in.imageSize, keptIndex);
    auto& record = out.record;
    record.isReduced = true;
    record.counts.tokensKept = keep + 1;
    record.counts.tokensPruned = patches - keep;
    record.counts.imageOut = keep + 1;
    record.keptIndex = keptIndex;
    record.imageOrigin = keptIndex;
    if (in.recordProvenance) {
        record.imageSource =
            selectRows(in.imageSource.defined() ? in.imageSource : identitySource(b, imageTokens, options), keptIndex);
        record.imageSize = record.imageSource.sum(-1);
        if (in.textSource.defined()) record.textSize = in.textSource.sum(-1);
    }
    out.selection.keptIndex = keptIndex;
    return out;
}

std::vector<MeterPumerPreset> meterPumerPresets() {
    const auto make = [](const char* name, std::vector<int> layers, double p, double r, double t, int size, int text) {
        MeterPumerPreset preset;
        preset.name = name;
        preset.fusionLayers = std::move(layers);
        preset.pumer.pruneRatio = p;
        preset.pumer.mergeRatio = r;
        preset.pumer.textMergeRatio = t;
        preset.pumer.mode = ReductionMode::Reference;
        preset.imageSize = size;
        preset.maxTextLen = text;
        return preset;
    };
    return {make("vqa2", {0, 1, 2, 3}, 0.2, 0.2, 0.2, 384, 32), make("snli-ve", {0, 1, 2, 3}, 0.3, 0.5, 0.2, 384, 40),
            make("nlvr2", {1, 2, 3}, 0.3, 0.5, 0.2, 288, 40)};
}

MeterPumerPreset meterPumerPreset(const std::string& name) {
    std::string known;
    for (const auto& preset : meterPumerPresets()) {
        if (preset.name == name) return preset;
        known += (known.empty() ? "" : ", ") + preset.name;
    }
    throw Error("unknown PuMer METER preset '" + name + "' (known: " + known + ")");
}

std::vector<int> meterFusionLayersFromLayerIdx(const std::vector<int>& layerIdx) {
    std::vector<int> layers;
    for (const auto idx : layerIdx) {
        if (idx < 0 || idx % 2 != 0)
            throw Error("PuMer METER reduce_layers hold layer_idx = 2 x fusion layer; " + std::to_string(idx) + " is not one");
        layers.push_back(idx / 2);
    }
    return layers;
}

}  // namespace tokenscope
