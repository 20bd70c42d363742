#include "engine/trace.h"

namespace tokenscope {

int TraceStream::originalCount() const {
    if (!patchCell.empty()) return static_cast<int>(patchCell.size());
    if (!regions.empty()) {
        const auto& last = regions.back();
        return last.firstToken + last.tokensPerSide * last.tokensPerSide;
    }
    return static_cast<int>(labels.size());
}

int Trace::find(Stage stage, int index, const std::string& label) const {
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const auto& l = layers[i];
        if (l.stage == stage && l.index == index && (label.empty() || l.label == label)) return static_cast<int>(i);
    }
    return -1;
}

std::string Trace::layerName(int layer) const {
    if (layer < 0 || static_cast<std::size_t>(layer) >= layers.size()) return {};
    const auto& l = layers[static_cast<std::size_t>(layer)];
    if (!l.label.empty()) return l.label;
    if (l.stage == Stage::Fusion) return "layer " + std::to_string(l.index);
    return std::string(stageName(l.stage)) + " " + std::to_string(l.index);
}

void finishDroppedAt(Trace& trace) {
    const auto fill = [&](TraceStream& stream, StreamStep TraceLayer::*step) {
        stream.droppedAt.assign(static_cast<std::size_t>(stream.originalCount()), -1);
        for (std::size_t l = 0; l < trace.layers.size(); ++l) {
            const auto& owner = (trace.layers[l].*step).owner;
            for (std::size_t o = 0; o < owner.size() && o < stream.droppedAt.size(); ++o)
                if (owner[o] < 0 && stream.droppedAt[o] < 0) stream.droppedAt[o] = static_cast<int>(l);
        }
    };
    fill(trace.image, &TraceLayer::image);
    fill(trace.text, &TraceLayer::text);
}

}  // namespace tokenscope
