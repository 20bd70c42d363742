#include "engine/trace_builder.h"

#include <algorithm>
#include <limits>
#include <map>

#include "common/error.h"

namespace tokenscope {

namespace {

// Provenance [current, originals] (0/1 weights) -> owner per original (-1 = no holder) and size
// per current token.
void ownersFromSource(const torch::Tensor& source, std::vector<int>& owner, std::vector<float>& size) {
    auto s = source.to(torch::kFloat).cpu().contiguous();  // [current, originals]
    const auto current = s.size(0), originals = s.size(1);
    owner.assign(static_cast<std::size_t>(originals), -1);
    size.assign(static_cast<std::size_t>(current), 0.0f);
    auto a = s.accessor<float, 2>();
    for (int64_t c = 0; c < current; ++c) {
        for (int64_t o = 0; o < originals; ++o) {
            if (a[c][o] > 0.5f) {
                owner[o] = static_cast<int>(c);
                size[c] += 1.0f;
            }
        }
    }
}

// The smallest original index each current token holds (a stable name for a merge group).
std::vector<int> representatives(const std::vector<int>& owner, std::size_t current) {
    std::vector<int> rep(current, -1);
    for (std::size_t o = 0; o < owner.size(); ++o) {
        const int c = owner[o];
        if (c >= 0 && static_cast<std::size_t>(c) < current && rep[c] < 0) rep[c] = static_cast<int>(o);
    }
    return rep;
}

std::vector<int64_t> row(const torch::Tensor& t, int64_t sample) {
    if (!t.defined() || t.numel() == 0) return {};
    auto r = t[sample].to(torch::kLong).cpu().contiguous();
    return std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
}

}  // namespace

Trace traceFromRecords(const RecordedLayers& input, int64_t sample) {
    Trace trace = input.skeleton;
    const auto& validPositions = input.imagePositions;
    const auto imageOriginals = validPositions.size();
    const auto textOriginals = trace.text.labels.size();

    // Current state: owner per original and size per current token.
    std::vector<int> imageOwner(imageOriginals), textOwner(textOriginals);
    std::vector<float> imageSize(static_cast<std::size_t>(input.imageCount), 1.0f),
        textSize(static_cast<std::size_t>(input.textCount), 1.0f);
    for (std::size_t o = 0; o < imageOriginals; ++o) imageOwner[o] = static_cast<int>(validPositions[o]);
    for (std::size_t o = 0; o < textOriginals; ++o) textOwner[o] = static_cast<int>(o);
    int imageCount = input.imageCount;
    int textCount = input.textCount;
    bool jointSequence = false;

    // Provenance columns of the records index the reducer's image positions; keep only the originals'.
    const auto index = torch::tensor(validPositions, torch::kLong);
    const auto apply = [&](const ReductionRecord& record, TraceLayer& layer) {
        std::vector<int> previousImageOwner = imageOwner, previousTextOwner = textOwner;
        if (record.imageSource.defined()) {
            std::vector<float> size;
            std::vector<int> owner;
            ownersFromSource(record.imageSource[sample].index_select(1, index.to(record.imageSource.device())), owner, size);
            imageOwner = owner;
            imageSize = size;
            imageCount = static_cast<int>(record.imageSource.size(1));
        }
        if (record.textSource.defined()) {
            std::vector<float> size;
            std::vector<int> owner;
            ownersFromSource(record.textSource[sample].slice(1, 0, static_cast<int64_t>(textOriginals)), owner, size);
            textOwner = owner;
            textSize = size;
            textCount = static_cast<int>(record.textSource.size(1));
        }
        layer.reduced = true;
        if (record.isJointSequence) {
            // Rows are over the whole sequence: count the rows that hold originals of each kind.
            jointSequence = true;
            imageCount = static_cast<int>(std::count_if(imageSize.begin(), imageSize.end(), [](float v) { return v > 0; }));
            textCount = static_cast<int>(std::count_if(textSize.begin(), textSize.end(), [](float v) { return v > 0; }));
        }
        // Scores of the input tokens, spread to the originals they held.
        if (record.imageScore.defined() && record.imageScore.numel() > 0) {
            const auto scores = record.imageScore[sample].to(torch::kFloat).cpu();
            layer.image.score.assign(imageOriginals, std::numeric_limits<float>::quiet_NaN());
            for (std::size_t o = 0; o < imageOriginals; ++o) {
                const int holder = previousImageOwner[o];
                if (holder >= 0 && holder < scores.size(0)) layer.image.score[o] = scores[holder].item<float>();
            }
        }
        // Merges as (source, destination) original-token representatives.
        const auto kept = row(record.keptIndex, sample);
        const auto mergeSource = row(record.imageMergeSource, sample), mergeDestination = row(record.imageMergeDestination, sample);
        const auto imageRep = representatives(previousImageOwner, static_cast<std::size_t>(layer.image.tokensIn));
        for (std::size_t m = 0; m < mergeSource.size() && m < mergeDestination.size(); ++m) {
            auto toInput = [&](int64_t p) { return kept.empty() ? p : (p < static_cast<int64_t>(kept.size()) ? kept[p] : -1); };
            const auto s = toInput(mergeSource[m]), d = toInput(mergeDestination[m]);
            if (s >= 0 && d >= 0 && s < static_cast<int64_t>(imageRep.size()) && d < static_cast<int64_t>(imageRep.size()))
                layer.image.merges.emplace_back(imageRep[s], imageRep[d]);
        }
        const auto textSourceRow = row(record.textMergeSource, sample), textDestination = row(record.textMergeDestination, sample);
        const auto textRep = representatives(previousTextOwner, static_cast<std::size_t>(layer.text.tokensIn));
        for (std::size_t m = 0; m < textSourceRow.size() && m < textDestination.size(); ++m) {
            const auto s = textSourceRow[m], d = textDestination[m];
            if (s >= 0 && d >= 0 && s < static_cast<int64_t>(textRep.size()) && d < static_cast<int64_t>(textRep.size()) &&
                textRep[s] >= 0 && textRep[d] >= 0)
                layer.text.merges.emplace_back(textRep[s], textRep[d]);
        }
    };

    if (auto it = input.records.find(-1); it != input.records.end()) {  // reduced before the first layer
        TraceLayer before;
        before.image.tokensIn = imageCount;
        before.text.tokensIn = textCount;
        apply(*it->second, before);
    }
    for (int l = 0; l < input.numLayers; ++l) {
        TraceLayer layer;
        layer.stage = input.stage;
        layer.index = l;
        layer.image.tokensIn = imageCount;
        layer.text.tokensIn = textCount;
        if (auto it = input.records.find(l); it != input.records.end()) {
            apply(*it->second, layer);
            if (input.reducesBeforeAttention.count(l)) layer.image.tokensIn = imageCount;
        }
        layer.image.tokens = imageCount;
        layer.text.tokens = textCount;
        layer.jointSequence = jointSequence;
        layer.image.owner = imageOwner;
        layer.text.owner = textOwner;
        layer.image.size = imageSize;
        layer.text.size = textSize;
        if (static_cast<std::size_t>(l) < input.layerMs.size()) layer.latencyMs = input.layerMs[l];
        trace.layers.push_back(std::move(layer));
    }
    finishDroppedAt(trace);
    return trace;
}

Trace buildTrace(const ViltEncoding& encoding, int64_t sample, const std::vector<std::string>& textTokens,
                 const TraceGeometry& geometry) {
    RecordedLayers input;
    Trace& trace = input.skeleton;
    trace.image.patchSize = geometry.patchSize;
    trace.image.resizedHeight = geometry.resizedHeight;
    trace.image.resizedWidth = geometry.resizedWidth;
    trace.image.gridHeight = static_cast<int>(encoding.gridHeight);
    trace.image.gridWidth = static_cast<int>(encoding.gridWidth);
    trace.text.labels = textTokens;

    // Original image tokens: the image CLS, then this sample's valid patches (padding excluded).
    const auto mask = row(encoding.imageTokenMask, sample);  // [1 + N]
    const auto cells = encoding.imagePatchIndex[sample].to(torch::kLong).cpu();
    trace.image.patchCell.push_back({-1, -1});
    input.imagePositions.push_back(0);
    for (std::size_t k = 1; k < mask.size(); ++k) {
        if (mask[k] == 0) continue;
        input.imagePositions.push_back(static_cast<int64_t>(k));
        trace.image.patchCell.push_back({static_cast<int>(cells[k - 1][0].item<int64_t>()), static_cast<int>(cells[k - 1][1].item<int64_t>())});
    }
    input.imageCount = static_cast<int>(mask.size());
    input.textCount = static_cast<int>(encoding.fullAttentionMask.size(1) - encoding.imageTokenMask.size(1));
    input.stage = Stage::Fusion;
    input.numLayers = geometry.numLayers;
    for (const auto& r : encoding.reductions) {
        input.records[r.layer] = &r.record;
        // DynamicViT prunes before the block: its attention already saw the shorter sequence.
        if (r.method == ReductionMethod::DynamicVit) input.reducesBeforeAttention.insert(r.layer);
    }
    input.layerMs = encoding.layerMs;
    return traceFromRecords(input, sample);
}

}  // namespace tokenscope
