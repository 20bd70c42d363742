#include "ui/trace_labels.h"

#include <algorithm>
#include <map>

namespace tokenscope {

QString layerTick(const Trace& trace, int layer)
{
    if (layer < 0 || layer >= int(trace.layers.size()))
        return {};
    const TraceLayer& step = trace.layers[size_t(layer)];
    if (!step.label.empty())
        return QString::fromStdString(step.label);
    if (step.stage == Stage::Fusion)
        return QString::number(step.index);
    const QString stage = QString::fromLatin1(stageName(step.stage));
    return stage.left(1).toUpper() + QString::number(step.index);
}

QString layerCaption(const Trace& trace, int layer)
{
    QString name = QString::fromStdString(trace.layerName(layer));
    if (!name.isEmpty())
        name[0] = name[0].toUpper();
    return name;
}

std::vector<LayerStageTimes> traceLayerTimes(const Trace& trace, const std::vector<TimelineSpan>& timeline)
{
    std::map<Stage, int> depth;
    for (const TraceLayer& layer : trace.layers)
        depth[layer.stage] = std::max(depth[layer.stage], layer.index + 1);
    std::map<Stage, std::vector<LayerStageTimes>> byStage;
    for (const auto& [stage, layers] : depth)
        byStage[stage] = layerStageTimes(timeline, stage, layers);
    std::vector<LayerStageTimes> times;
    for (const TraceLayer& layer : trace.layers) {
        const auto& stage = byStage[layer.stage];
        times.push_back(layer.label.empty() && layer.index < int(stage.size()) ? stage[size_t(layer.index)] : LayerStageTimes{});
    }
    return times;
}

}  // namespace tokenscope
