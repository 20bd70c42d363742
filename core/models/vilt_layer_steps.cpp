// ViLT's encoder block steps, free of ViltImpl: a plain or PuMer-reducing block (runViltLayer), a
// ToMe-merging block (runViltTomeLayer) and random / uniform patch dropping on the embeddings
// (dropImagePatches). vilt.cpp's encodeReduced() calls them; tests call them directly.

#include <algorithm>
#include <optional>

#include "engine/timeline.h"
#include "models/vilt.h"

namespace tokenscope {

namespace {

torch::Tensor identitySource(int64_t batch, int64_t tokens, const torch::TensorOptions& options) {
    return torch::eye(tokens, options).unsqueeze(0).expand({batch, tokens, tokens}).contiguous();  // [B, N, N]
}

torch::Tensor rowIndex(int64_t batch, int64_t length, const torch::TensorOptions& options) {
    return torch::arange(length, options.dtype(torch::kLong)).unsqueeze(0).expand({batch, length});  // [B, N]
}

// ToMe's proportional attention on top of masking: log(weight) for keys with valid originals, the
// dtype's lowest where none. Weights are counts, so every unmasked weight is >= 1.
torch::Tensor logWeightBias(const torch::Tensor& weight, torch::Dtype dtype) {
    const auto w = weight.to(dtype);
    const auto lowest = additiveKeyMask(torch::zeros({1, 1}, w.options()), dtype).item<double>();
    auto bias = torch::where(w > 0, w.clamp_min(1.0).log(), torch::full_like(w, lowest));
    return bias.unsqueeze(1).unsqueeze(2);  // [B, 1, 1, N]
}

// merge_wavg with padding: x averaged over the valid originals of each group (weights w [B, N, 1]);
// groups without a valid original (weight 0) take the plain mean so that they stay finite. Returns
// the merged x [B, N - r, C] and the merged weights [B, N - r, 1]. x·w and w merge as one tensor
// (one gather / scatter instead of two); the plain mean is computed only when a group needs it.
std::pair<torch::Tensor, torch::Tensor> mergeByWeight(const BipartiteMatch& match, const torch::Tensor& x,
                                                      const torch::Tensor& w) {
    const auto sums = mergeWeightedSums(match, x, w);
    const auto& mergedWeight = sums.size;                       // [B, N - r, 1]
    auto weighted = sums.x / mergedWeight.clamp_min(1.0);        // [B, N - r, C]
    const auto valid = mergedWeight > 0;
    if (x.is_cuda() || !valid.all().item<bool>())  // a host sync only where it costs nothing
        weighted = torch::where(valid, weighted, applyMerge(match, x, MergeReduce::Mean));
    return {weighted, mergedWeight};
}

// Cosine similarity of every token to its most similar token of the other bipartite set
// (A = even, B = odd positions), unmasked. metric [B, N, c] -> [B, N].
torch::Tensor bestMatchScore(const torch::Tensor& metric) {
    const auto normed = metric / metric.norm(2, -1, true);
    const auto a = normed.slice(1, 0, c10::nullopt, 2);   // [B, Na, c]
    const auto b = normed.slice(1, 1, c10::nullopt, 2);   // [B, Nb, c]
    const auto scores = torch::matmul(a, b.transpose(-1, -2));  // [B, Na, Nb]
    auto out = torch::empty({metric.size(0), metric.size(1)}, metric.options());
    out.slice(1, 0, c10::nullopt, 2).copy_(std::get<0>(scores.max(-1)));
    if (b.size(1) > 0) out.slice(1, 1, c10::nullopt, 2).copy_(std::get<0>(scores.max(1)));
    return out;
}

// SplitMix64 (Steele, Lea, Flood 2014): a tiny PRNG with a fixed output for a fixed seed everywhere.
uint64_t splitMix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// The chosen subset of 0..count-1 (ascending), `keep` of them.
std::vector<int64_t> choosePatches(int64_t count, int64_t keep, DropKind kind, uint64_t seed) {
    std::vector<int64_t> chosen;
    if (kind == DropKind::Uniform) {
        for (int64_t j = 0; j < keep; ++j) chosen.push_back(((2 * j + 1) * count) / (2 * keep));  // floor((j + 0.5) P / k)
        return chosen;
    }
    std::vector<int64_t> order(static_cast<std::size_t>(count));
    for (int64_t i = 0; i < count; ++i) order[static_cast<std::size_t>(i)] = i;
    uint64_t state = seed;
    for (int64_t j = 0; j < keep; ++j) {  // partial Fisher-Yates
        const auto pick = j + static_cast<int64_t>(splitMix64(state) % static_cast<uint64_t>(count - j));
        std::swap(order[static_cast<std::size_t>(j)], order[static_cast<std::size_t>(pick)]);
    }
    chosen.assign(order.begin(), order.begin() + keep);
    std::sort(chosen.begin(), chosen.end());
    return chosen;
}

}  // namespace

ViltLayerStep runViltLayer(PreNormBlockImpl& block, ViltLayerState state, ReductionMode mode,
                           const PumerConfig* reduceHere, bool keepAttention) {
    const bool reference = mode == ReductionMode::Reference;
    const auto t = state.textLength;
    const auto length = state.hidden.size(1);
    AttentionOverrides overrides;
    if (reference) {
        overrides.layerNormEps = kPumerLayerNormEps;
        overrides.multiplicativeMask = state.mask.to(state.hidden.scalar_type());
    }
    const bool needRows = reduceHere && (reduceHere->score == PruneScore::MeanHead ||
                                         reduceHere->score == PruneScore::FirstHead);
    overrides.wantKeyMean = reduceHere != nullptr;
    overrides.wantQueryMean = reduceHere && reduceHere->score == PruneScore::QueryKey;
    AttentionProbe probe;
    probe.wantFull = keepAttention;
    probe.wantRows = needRows;  // text queries -> image keys, softmax over all keys
    probe.queryBegin = 0;
    probe.queryEnd = t;
    probe.keyBegin = t;
    probe.keyEnd = length;
    AttentionProbs probs;
    const auto additive = reference ? torch::Tensor() : additiveWeightMask(state.mask, state.hidden.scalar_type());
    ViltLayerStep step;
    torch::Tensor hidden;
    {
        const TimelineSpanGuard span("attention", Stage::Fusion, -1, true);
        hidden = block.attentionHalf(state.hidden, additive, (keepAttention || needRows) ? &probe : nullptr, &probs,
                                     overrides);
    }
    step.state = std::move(state);
    step.state.hidden = torch::Tensor();  // the layer's input is not needed past the attention half
    step.attention = probs.full;
    if (reduceHere) {
        const TimelineSpanGuard span("reduce", Stage::Fusion, -1, true);
        PumerLayerInput input;
        input.hidden = hidden;
        input.textLength = t;
        input.mask = step.state.mask;
        input.keyMean = overrides.keyMean;
        input.queryMean = overrides.queryMean;
        input.textToImage = probs.rows;
        input.imageSource = step.state.imageSource;
        input.textSource = step.state.textSource;
        input.recordProvenance = step.state.recordProvenance;
        auto reduced = pumerReduce(input, *reduceHere);
        hidden = reduced.hidden;
        step.state.mask = reduced.mask;
        step.state.textLength = reduced.textLength;
        step.state.imageSource = reduced.record.imageSource;
        step.state.textSource = reduced.record.textSource;
        step.record = std::move(reduced.record);
    }
    const TimelineSpanGuard span("mlp", Stage::Fusion, -1, true);
    step.state.hidden = block.mlpHalf(hidden, reference ? kPumerLayerNormEps : 0.0);
    return step;
}

ViltLayerStep runViltTomeLayer(PreNormBlockImpl& block, ViltLayerState state, int64_t r,
                               const TomeSettings& tome, bool keepAttention) {
    const auto dtype = state.hidden.scalar_type();
    const auto b = state.hidden.size(0);
    const auto t = state.textLength;
    // Before the first merge this is exactly the plain forward's additive mask.
    const auto bias = tome.proportionalAttention && state.hasMerged ? logWeightBias(state.mask, dtype)
                                                                     : additiveKeyMask(state.mask > 0, dtype);
    AttentionOverrides overrides;
    overrides.wantKeyMean = r > 0;
    AttentionProbe probe;
    probe.wantFull = keepAttention;
    AttentionProbs probs;
    torch::Tensor hidden;
    {
        const TimelineSpanGuard span("attention", Stage::Fusion, -1, true);
        hidden = block.attentionHalf(state.hidden, bias, keepAttention ? &probe : nullptr, &probs, overrides);
    }
    std::optional<TimelineSpanGuard> reduceSpan(std::in_place, "reduce", Stage::Fusion, -1, true);
    ViltLayerStep step;
    step.attention = probs.full;
    state.hidden = torch::Tensor();  // the layer's input is not needed past the attention half
    step.state = state;
    const int64_t begin = tome.joint ? 0 : t;
    const auto metric = r > 0 ? overrides.keyMean.slice(1, begin) : torch::Tensor();  // [B, N, dh]
    const auto match = r > 0 ? bipartiteSoftMatching(metric, r, /*classToken=*/true) : BipartiteMatch();
    if (match.r > 0) {
        const auto part = hidden.slice(1, begin);                               // [B, N, C]
        const auto n = part.size(1);
        const auto weight = state.mask.slice(1, begin).to(dtype).unsqueeze(-1);  // [B, N, 1] valid originals
        torch::Tensor merged, mergedWeight;                                      // [B, N - r, C], [B, N - r, 1]
        std::tie(merged, mergedWeight) = mergeByWeight(match, part, weight);
        const auto options = hidden.options();

        ReductionRecord record;
        record.isReduced = true;
        record.isJointSequence = tome.joint;
        record.counts.mergeRequested = r;
        record.counts.tokensMerged = match.r;
        record.imageOrigin = mergedOrigin(match);
        if (state.recordProvenance) {  // what only the trace reads
            record.imageScore = bestMatchScore(metric);  // [B, N]
            record.imageMergeSource = 2 * match.sourceIndex;
            record.imageMergeDestination = 2 * match.destinationIndex + 1;
        }
        torch::Tensor imageSource = state.imageSource, textSource = state.textSource;
        if (tome.joint) {
            const auto images = n - t;
            if (!imageSource.defined()) {  // rows over the joint sequence: text rows hold no image original
                imageSource = torch::cat({torch::zeros({b, t, images}, options), identitySource(b, images, options)}, 1);
                textSource = torch::cat({identitySource(b, t, options), torch::zeros({b, images, t}, options)}, 1);
            }
            record.imageSource = mergeSource(match, part, imageSource);  // [B, N - r, I0]
            record.textSource = mergeSource(match, part, textSource);    // [B, N - r, T0]
            record.counts.imageIn = n;
            record.counts.imageOut = n - match.r;
            record.counts.tokensKept = n;
            record.counts.wholeSequenceMerged = match.r;
            hidden = merged;
            step.state.mask = mergedWeight.squeeze(-1);
            step.state.textLength = std::min(t, n - match.r);
        } else {
            if (state.recordProvenance) {
                if (!imageSource.defined()) imageSource = identitySource(b, n, options);
                if (!textSource.defined()) textSource = identitySource(b, t, options);
                record.imageSource = mergeSource(match, part, imageSource);  // [B, I - r, I0]
                record.textSource = textSource;
            }
            if (state.recordProvenance) record.textOrigin = rowIndex(b, t, options);
            record.counts.imageIn = n;
            record.counts.textIn = record.counts.textOut = t;
            record.counts.tokensKept = n;
            record.counts.imageOut = n - match.r;
            hidden = torch::cat({hidden.slice(1, 0, t), merged}, 1);  // [B, T + I - r, C]
            step.state.mask = torch::cat({state.mask.slice(1, 0, t).to(dtype), mergedWeight.squeeze(-1)}, 1);
        }
        if (record.imageSource.defined()) {
            record.imageSize = record.imageSource.sum(-1);
            record.textSize = record.textSource.sum(-1);
        }
        step.state.imageSource = record.imageSource;
        step.state.textSource = record.textSource;
        step.state.hasMerged = true;
        step.record = std::move(record);
    }
    reduceSpan.reset();
    const TimelineSpanGuard span("mlp", Stage::Fusion, -1, true);
    step.state.hidden = block.mlpHalf(hidden);
    return step;
}

ViltDropResult dropImagePatches(const ViltLayerState& embeddings, const DropSettings& drop) {
    ViltDropResult out;
    out.state = embeddings;
    if (drop.keepRatio >= 1.0) return out;
    const auto& hidden = embeddings.hidden;
    const auto b = hidden.size(0);
    const auto t = embeddings.textLength;
    const auto images = hidden.size(1) - t;  // I0 = image CLS + patches
    const auto patchMask = embeddings.mask.slice(1, t + 1).to(torch::kFloat).cpu().contiguous();  // [B, N]

    std::vector<std::vector<int64_t>> kept(static_cast<std::size_t>(b));
    int64_t length = 0;
    for (int64_t i = 0; i < b; ++i) {
        std::vector<int64_t> valid;  // image positions of the valid patches, raster order
        const auto m = patchMask[i];
        const auto a = m.accessor<float, 1>();
        for (int64_t p = 0; p < m.size(0); ++p)
            if (a[p] > 0.5f) valid.push_back(p + 1);
        const auto count = static_cast<int64_t>(valid.size());
        const auto keep =
            std::min(std::max<int64_t>(roundHalfEven(drop.keepRatio * static_cast<double>(count)), 1), count);
        auto& row = kept[static_cast<std::size_t>(i)];
        row.push_back(0);  // image CLS
        for (const auto j : choosePatches(count, keep, drop.kind, drop.seed)) row.push_back(valid[static_cast<std::size_t>(j)]);
        length = std::max<int64_t>(length, static_cast<int64_t>(row.size()));
    }
    auto indexCpu = torch::full({b, length}, -1, torch::kLong);  // [B, I_out], -1 = filler
    for (int64_t i = 0; i < b; ++i) {
        const auto& row = kept[static_cast<std::size_t>(i)];
        indexCpu[i].slice(0, 0, static_cast<int64_t>(row.size())).copy_(torch::tensor(row, torch::kLong));
    }
    const auto index = indexCpu.to(hidden.device());
    const auto isKept = index.ge(0);              // [B, I_out]
    const auto gatherIndex = index.clamp_min(0);  // [B, I_out]
    const auto image = hidden.slice(1, t);        // [B, I0, C]
    auto keptImage = selectRows(image, gatherIndex);  // [B, I_out, C]
    keptImage = keptImage * isKept.unsqueeze(-1).to(keptImage.scalar_type());
    const auto maskType = embeddings.mask.scalar_type();
    const auto keptMask = embeddings.mask.slice(1, t).gather(1, gatherIndex) * isKept.to(maskType);  // [B, I_out]
    torch::Tensor source;  // [B, I_out, I0], the trace's bookkeeping
    if (embeddings.recordProvenance) {
        source = embeddings.imageSource.defined() ? selectRows(embeddings.imageSource, gatherIndex)
                                                  : torch::one_hot(gatherIndex, images).to(hidden.scalar_type());
        source = source * isKept.unsqueeze(-1).to(source.scalar_type());
    }

    ReductionRecord record;
    record.isReduced = true;
    record.counts.imageIn = images;
    record.counts.textIn = record.counts.textOut = t;
    record.counts.tokensKept = length;
    record.counts.tokensPruned = images - length;
    record.counts.imageOut = length;
    record.keptIndex = index;
    record.imageOrigin = index;
    record.imageSource = source;
    if (source.defined()) record.imageSize = source.sum(-1);
    out.state.hidden = torch::cat({hidden.slice(1, 0, t), keptImage}, 1);          // [B, T + I_out, C]
    out.state.mask = torch::cat({embeddings.mask.slice(1, 0, t), keptMask}, 1);    // [B, T + I_out]
    out.state.imageSource = source;
    out.record = std::move(record);
    return out;
}

}  // namespace tokenscope
