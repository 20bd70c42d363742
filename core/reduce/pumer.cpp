#include "reduce/pumer.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <limits>
#include <optional>

#include "common/error.h"
#include "engine/timeline.h"

namespace tokenscope {

namespace {

torch::Tensor identitySource(int64_t batch, int64_t tokens, const torch::TensorOptions& options) {
    return torch::eye(tokens, options).unsqueeze(0).expand({batch, tokens, tokens}).contiguous();  // [B, N, N]
}

// Composes "output token -> merge-input position" with "merge-input position -> layer-input position".
torch::Tensor composeOrigin(const BipartiteMatch& match, const torch::Tensor& before) {
    if (match.r == 0) return before;
    return before.gather(1, mergedOrigin(match));
}

}  // namespace

PumerCounts pumerCounts(int64_t imageTokens, int64_t textTokens, const PumerConfig& config) {
    PumerCounts c;
    c.imageIn = imageTokens;
    c.textIn = textTokens;
    c.imageOut = imageTokens;
    c.textOut = textTokens;
    c.tokensKept = imageTokens;
    const auto pruneRequested = roundHalfEven(config.pruneRatio * static_cast<double>(imageTokens));
    const bool reference = config.mode == ReductionMode::Reference;
    if (reference && pruneRequested <= 0) {
        // Legacy path: whole-sequence ToMe with an absolute count, text length not updated.
        const auto r = static_cast<int64_t>(config.mergeRatio);
        c.wholeSequenceMerged = std::max<int64_t>(0, std::min(r, (imageTokens + textTokens - 1) / 2));
        return c;
    }
    c.tokensPruned = reference ? pruneRequested : std::clamp<int64_t>(pruneRequested, 0, std::max<int64_t>(imageTokens - 1, 0));
    c.tokensKept = std::max<int64_t>(imageTokens - c.tokensPruned, 1);
    if (reference) c.tokensPruned = imageTokens - c.tokensKept;
    c.mergeRequested = roundHalfEven(config.mergeRatio * static_cast<double>(imageTokens));
    const auto cap = config.mergeStyle == ImageMergeStyle::Diff ? c.tokensKept / 2 : (c.tokensKept - 1) / 2;
    c.tokensMerged = std::max<int64_t>(0, std::min(c.mergeRequested, cap));
    c.imageOut = c.tokensKept - c.tokensMerged;
    c.textMergeRequested = roundHalfEven(static_cast<double>(textTokens) * config.textMergeRatio);
    c.textMerged = std::max<int64_t>(0, std::min(c.textMergeRequested, (textTokens - 1) / 2));
    c.textOut = textTokens - c.textMerged;
    return c;
}

BipartiteMatch tipMatching(const torch::Tensor& metric, const torch::Tensor& scores, int64_t r) {
    const auto n = metric.size(1);
    r = std::max<int64_t>(0, std::min(r, (n - 1) / 2));
    if (r == 0) {
        BipartiteMatch none;
        none.tokens = n;
        none.hasClassToken = true;
        return none;
    }
    torch::NoGradGuard noGrad;
    auto weighted = metric * scores.unsqueeze(-1);               // [B, N, c]
    weighted = weighted / weighted.norm(2, -1, true);
    const auto a = weighted.slice(1, 0, c10::nullopt, 2);        // [B, Na, c]
    const auto b = weighted.slice(1, 1, c10::nullopt, 2);        // [B, Nb, c]
    auto similarity = torch::matmul(a, b.transpose(-1, -2));     // [B, Na, Nb]
    similarity.select(1, 0).fill_(-std::numeric_limits<double>::infinity());
    return matchFromScores(similarity, n, r, /*descending=*/true, /*sortUnmerged=*/true);
}

BipartiteMatch diffMatching(const torch::Tensor& scores, int64_t r) {
    const auto n = scores.size(1);
    r = std::max<int64_t>(0, std::min(r, n / 2));
    if (r == 0) {
        BipartiteMatch none;
        none.tokens = n;
        return none;
    }
    torch::NoGradGuard noGrad;
    const auto a = scores.slice(1, 0, c10::nullopt, 2);                // [B, Na]
    const auto b = scores.slice(1, 1, c10::nullopt, 2);                // [B, Nb]
    const auto distance = (a.unsqueeze(-1) - b.unsqueeze(1)).abs();    // [B, Na, Nb]
    return matchFromScores(distance, n, r, /*descending=*/false, /*sortUnmerged=*/false);
}

PumerLayerOutput pumerReduce(const PumerLayerInput& in, const PumerConfig& config) {
    if (!in.hidden.defined() || in.hidden.dim() != 3) throw Error("PuMer: hidden must be [B, N, C]");
    const auto b = in.hidden.size(0);
    const auto length = in.hidden.size(1);
    const auto t = in.textLength;
    const auto imageTokens = length - t;
    if (t <= 0 || imageTokens <= 0) throw Error("PuMer: the sequence needs text and image tokens");
    const bool reference = config.mode == ReductionMode::Reference;
    const auto floatOptions = in.hidden.options();

    PumerLayerOutput out;
    auto& record = out.record;
    record.counts = pumerCounts(imageTokens, t, config);
    const auto& counts = record.counts;
    auto textMask = in.mask.slice(1, 0, t).to(in.hidden.scalar_type());  // [B, T]
    // Provenance is bookkeeping for the trace: without it nothing below changes but the record.
    const bool provenance = in.recordProvenance;
    torch::Tensor imageSource, textSource;
    if (provenance) {
        imageSource = in.imageSource.defined() ? in.imageSource : identitySource(b, imageTokens, floatOptions);
        textSource = in.textSource.defined() ? in.textSource : identitySource(b, t, floatOptions);
    }

    const bool fallback = reference && roundHalfEven(config.pruneRatio * static_cast<double>(imageTokens)) <= 0;
    if (fallback) {
        out.textLength = t;  // stale on purpose (reference)
        out.hidden = in.hidden;
        out.mask = in.mask.to(in.hidden.scalar_type());
        if (counts.wholeSequenceMerged > 0) {
            const auto match = bipartiteSoftMatching(in.keyMean, counts.wholeSequenceMerged, true);
            std::tie(out.hidden, out.mask) = mergeWithMask(match, in.hidden, out.mask);
        }
        record.imageSource = imageSource;
        record.textSource = textSource;
        return out;
    }
    record.isReduced = true;

    std::optional<TimelineSpanGuard> span(std::in_place, "reduce.score", Stage::Fusion, -1, true);
    // Text-informed importance of every image token (incl. image CLS and padding), [B, I].
    const auto validText = textMask.sum(1, true);  // [B, 1], fractional after text merges
    auto rowWeighted = [&](const torch::Tensor& rows) {  // rows [B, T, I] -> [B, I]
        if (reference) return rows.sum(1) / validText;
        return (rows * textMask.unsqueeze(-1)).sum(1) / validText;
    };
    torch::Tensor score;
    switch (config.score) {
        case PruneScore::MeanHead: score = rowWeighted(in.textToImage.mean(1)); break;
        case PruneScore::FirstHead: score = rowWeighted(in.textToImage.select(1, 0)); break;
        case PruneScore::KeyMetric:
            score = rowWeighted(torch::matmul(in.keyMean.slice(1, 0, t), in.keyMean.slice(1, t).transpose(-2, -1)));
            break;
        case PruneScore::QueryKey:
            score = rowWeighted(torch::matmul(in.queryMean.slice(1, 0, t), in.keyMean.slice(1, t).transpose(-2, -1)));
            break;
    }
    record.imageScore = score;

    span.reset();
    span.emplace("reduce.prune", Stage::Fusion, -1, true);
    // Pruning: top-k in descending score order (Fixed with nothing pruned keeps spatial order).
    auto image = in.hidden.slice(1, t);                 // [B, I, C]
    auto imageMetric = in.keyMean.slice(1, t);          // [B, I, dh]
    if (!reference && counts.tokensPruned == 0) {
        record.keptIndex = torch::arange(imageTokens, floatOptions.dtype(torch::kLong)).unsqueeze(0).expand({b, imageTokens});
        record.keptScore = score;
    } else {
        const auto top = score.topk(counts.tokensKept, -1, true, true);
        record.keptScore = std::get<0>(top);  // [B, kept]
        record.keptIndex = std::get<1>(top);  // [B, kept]
    }
    image = selectRows(image, record.keptIndex);              // [B, kept, C]
    imageMetric = selectRows(imageMetric, record.keptIndex);  // [B, kept, dh]
    if (provenance) imageSource = selectRows(imageSource, record.keptIndex);  // [B, kept, I0]
    record.imageOrigin = record.keptIndex;
    // Reference resets the image mask to ones after a reduction; Fixed carries it (merged like the states).
    torch::Tensor imageMask;  // [B, kept]
    if (!reference) imageMask = in.mask.slice(1, t).to(in.hidden.scalar_type()).gather(1, record.keptIndex);

    span.reset();
    span.emplace("reduce.merge_image", Stage::Fusion, -1, true);
    if (counts.mergeRequested > 0) {
        BipartiteMatch match;
        switch (config.mergeStyle) {
            case ImageMergeStyle::Tome: {
                match = bipartiteSoftMatching(imageMetric, counts.mergeRequested, true);
                // Equal weights: sizes are not carried. Reference resets the mask below: not merged.
                if (reference) image = mergeWeightedAverage(match, image).x;
                else std::tie(image, imageMask) = mergeWithMask(match, image, imageMask);
                break;
            }
            case ImageMergeStyle::Tip:
                match = tipMatching(imageMetric, record.keptScore, counts.mergeRequested);
                image = applyMerge(match, image, MergeReduce::Sum);
                break;
            case ImageMergeStyle::Diff:
                match = diffMatching(record.keptScore, counts.mergeRequested);
                image = applyMerge(match, image, MergeReduce::Sum);
                break;
        }
        if (match.r > 0) {
            record.imageMergeSource = 2 * match.sourceIndex;
            record.imageMergeDestination = 2 * match.destinationIndex + 1;
            record.imageOrigin = composeOrigin(match, record.imageOrigin);
            if (provenance) imageSource = mergeSource(match, image, imageSource);
            if (config.mergeStyle != ImageMergeStyle::Tome && !reference)
                imageMask = applyMerge(match, imageMask.unsqueeze(-1), MergeReduce::Amax).squeeze(-1);
        }
    }

    span.reset();
    span.emplace("reduce.merge_text", Stage::Fusion, -1, true);
    auto text = in.hidden.slice(1, 0, t);  // [B, T, C]
    record.textOrigin = torch::arange(t, floatOptions.dtype(torch::kLong)).unsqueeze(0).expand({b, t});
    if (counts.textMergeRequested > 0) {
        const auto match = bipartiteSoftMatching(in.keyMean.slice(1, 0, t), counts.textMergeRequested, true);
        std::tie(text, textMask) = mergeWithMask(match, text, textMask);  // fractional masks
        if (match.r > 0) {
            record.textMergeSource = 2 * match.sourceIndex;
            record.textMergeDestination = 2 * match.destinationIndex + 1;
            record.textOrigin = composeOrigin(match, record.textOrigin);
            if (provenance) textSource = mergeSource(match, text, textSource);
        }
    }

    span.reset();
    record.imageSource = imageSource;
    record.textSource = textSource;
    if (provenance) {
        record.imageSize = imageSource.sum(-1);
        record.textSize = textSource.sum(-1);
    }
    out.textLength = text.size(1);
    out.hidden = torch::cat({text, image}, 1);                                                        // [B, T'+I', C]
    if (reference) imageMask = torch::ones({b, image.size(1)}, textMask.options());
    out.mask = torch::cat({textMask, imageMask}, 1);  // [B, T'+I']
    return out;
}

}  // namespace tokenscope
