#pragma once

// How the window names a trace's layers, whatever their stage: a short tick for scrubbers and chart
// axes ("5" for a fusion layer, "V2" for vision layer 2, "T0" for text layer 0, "select" for a
// labelled step), a caption ("Layer 5", "Vision 2", "Select"), and each layer's time split from the
// run's timeline. GUI-independent helpers (no widgets).

#include <QString>

#include <vector>

#include "engine/timeline.h"
#include "engine/trace.h"

namespace tokenscope {

QString layerTick(const Trace& trace, int layer);
QString layerCaption(const Trace& trace, int layer);
// Per trace layer: attention / reducer / MLP / other of the timeline's span for that (stage, index);
// zeros where the timeline has none.
std::vector<LayerStageTimes> traceLayerTimes(const Trace& trace, const std::vector<TimelineSpan>& timeline);

}  // namespace tokenscope
