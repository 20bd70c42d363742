#include "engine/visual_selection.h"

#include <algorithm>
#include <string>

#include "common/error.h"

namespace tokenscope {

namespace {

// A layer that keeps `alive` (per original token) and numbers the survivors in stream order.
StreamStep stepKeeping(const std::vector<bool>& alive, int tokensIn) {
    StreamStep step;
    step.tokensIn = tokensIn;
    step.owner.assign(alive.size(), -1);
    int current = 0;
    for (std::size_t t = 0; t < alive.size(); ++t)
        if (alive[t]) step.owner[t] = current++;
    step.tokens = current;
    step.size.assign(static_cast<std::size_t>(current), 1.0f);
    return step;
}

}  // namespace

void validateVisualSelection(const VisualSelection& s) {
    if (s.patchGrid <= 0) throw Error("the visual-token record's patch grid is " + std::to_string(s.patchGrid));
    if (s.partitions.empty()) throw Error("the visual-token record has no partitions");
    if (s.imageWidth <= 0 || s.imageHeight <= 0)
        throw Error("the visual-token record's image size is " + std::to_string(s.imageWidth) + "x" + std::to_string(s.imageHeight));
    const int count = s.patchGrid * s.patchGrid;
    for (std::size_t i = 0; i < s.partitions.size(); ++i) {
        const auto& partition = s.partitions[i];
        const std::string name = "partition " + std::to_string(i);
        if (!(partition.width > 0) || !(partition.height > 0)) throw Error(name + " has an empty rectangle");
        for (const std::vector<int>* indices : {&partition.selected, &partition.kept})
            for (int t : *indices)
                if (t < 0 || t >= count)
                    throw Error(name + ": token " + std::to_string(t) + " outside 0.." + std::to_string(count - 1));
        for (const std::vector<float>* map : {&partition.clsAttentionInitial, &partition.clsAttentionFinal})
            if (!map->empty() && static_cast<int>(map->size()) != count)
                throw Error(name + ": an attention map of " + std::to_string(map->size()) + " values for " + std::to_string(count) + " tokens");
        if (!partition.isFullImage && (partition.row < 0 || partition.column < 0 || partition.row >= std::max(1, s.gridRows) ||
                                       partition.column >= std::max(1, s.gridColumns)))
            throw Error(name + ": tile " + std::to_string(partition.row) + "," + std::to_string(partition.column) + " outside the " +
                        std::to_string(s.gridRows) + "x" + std::to_string(s.gridColumns) + " grid");
    }
}

Trace visualSelectionTrace(const VisualSelection& s) {
    validateVisualSelection(s);
    Trace trace;
    auto& image = trace.image;
    image.imageHeight = s.imageHeight;
    image.imageWidth = s.imageWidth;
    image.tileRows = s.gridRows;
    image.tileColumns = s.gridColumns;
    image.tileSize = s.tileSize;
    const int p = s.patchGrid, perRegion = p * p;
    for (const auto& partition : s.partitions) {
        TraceRegion region;
        region.isFullImage = partition.isFullImage;
        region.row = partition.row;
        region.column = partition.column;
        region.x = partition.x, region.y = partition.y, region.width = partition.width, region.height = partition.height;
        region.tokensPerSide = p;
        region.firstToken = static_cast<int>(image.regions.size()) * perRegion;
        region.budget = partition.budget;
        region.share = partition.share;
        image.regions.push_back(region);
    }
    const int total = static_cast<int>(s.partitions.size()) * perRegion;
    trace.budget = s.budget;

    // CLIP's CLS attention, where it was read: vision layer 0 (HiRED's budget signal) and the
    // feature layer (its selection signal). Every token is still there.
    const auto attentionLayer = [&](int index, std::vector<float> PartitionSelection::*map) {
        bool any = false;
        for (const auto& partition : s.partitions) any = any || !(partition.*map).empty();
        if (!any) return;
        TraceLayer layer;
        layer.stage = Stage::Vision;
        layer.index = index;
        layer.image = stepKeeping(std::vector<bool>(static_cast<std::size_t>(total), true), total);
        layer.image.score.assign(static_cast<std::size_t>(total), 0.0f);
        for (std::size_t k = 0; k < s.partitions.size(); ++k) {
            const auto& values = s.partitions[k].*map;
            std::copy(values.begin(), values.end(), layer.image.score.begin() + static_cast<std::ptrdiff_t>(k) * perRegion);
        }
        trace.layers.push_back(std::move(layer));
    };
    attentionLayer(0, &PartitionSelection::clsAttentionInitial);
    attentionLayer(std::max(0, s.featureLayer), &PartitionSelection::clsAttentionFinal);

    std::vector<bool> selected(static_cast<std::size_t>(total), false), kept(static_cast<std::size_t>(total), false);
    for (std::size_t k = 0; k < s.partitions.size(); ++k) {
        const auto base = static_cast<std::size_t>(k) * static_cast<std::size_t>(perRegion);
        for (int t : s.partitions[k].selected) selected[base + static_cast<std::size_t>(t)] = true;
        for (int t : s.partitions[k].kept) kept[base + static_cast<std::size_t>(t)] = true;
    }
    // A kept token was selected (the full model selects every token).
    for (std::size_t t = 0; t < selected.size(); ++t) selected[t] = selected[t] || kept[t];

    TraceLayer select;
    select.stage = Stage::Projector;
    select.index = 0;
    select.label = "select";
    select.image = stepKeeping(selected, total);
    select.reduced = s.reduced;
    const int finalScores = trace.find(Stage::Vision, std::max(0, s.featureLayer));
    if (finalScores >= 0) select.image.score = trace.layers[static_cast<std::size_t>(finalScores)].image.score;
    const int selectedCount = select.image.tokens;
    trace.layers.push_back(std::move(select));

    TraceLayer unpad;
    unpad.stage = Stage::Projector;
    unpad.index = 1;
    unpad.label = "unpad";
    unpad.removesPadding = true;
    unpad.image = stepKeeping(kept, selectedCount);
    unpad.reduced = unpad.image.tokens < selectedCount;
    trace.layers.push_back(std::move(unpad));

    finishDroppedAt(trace);
    return trace;
}

}  // namespace tokenscope
