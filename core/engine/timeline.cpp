#include "engine/timeline.h"

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

namespace tokenscope {

namespace {

thread_local Timeline* t_current = nullptr;

double nowUs() {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

const char* stageName(Stage stage) {
    switch (stage) {
        case Stage::Embeddings: return "embeddings";
        case Stage::Vision: return "vision";
        case Stage::Text: return "text";
        case Stage::Fusion: return "fusion";
        case Stage::Projector: return "projector";
        case Stage::Decoder: return "decoder";
        case Stage::Head: return "head";
        case Stage::Other: return "other";
    }
    return "other";
}

Timeline::Timeline(Options options) : m_options(std::move(options)) {
    if (m_options.synchronize) m_options.synchronize();
    if (m_options.memory) {
        m_baseline = m_options.memory->liveBytes();
        m_options.memory->resetPeak();
        m_outerPeak = m_baseline;
    }
    m_originUs = nowUs();
}

Timeline* Timeline::current() { return t_current; }

int64_t Timeline::peakBytes() {
    if (!m_options.memory) return -1;
    int64_t peak = std::max(m_outerPeak, m_options.memory->peakBytes());
    for (const auto& w : m_windows) peak = std::max(peak, w.childPeak);
    return peak - m_baseline;
}

std::size_t Timeline::open(const char* name, Stage stage, int layer, bool subStage) {
    if (m_options.synchronize) m_options.synchronize();
    if (layer < 0 && subStage && !m_open.empty()) layer = m_spans[m_open.back()].layer;  // inside "layer i"
    Window window;
    if (auto* memory = m_options.memory) {
        // What the enclosing window saw up to here survives the reset below.
        const auto seen = memory->peakBytes();
        if (m_windows.empty()) {
            m_outerPeak = std::max(m_outerPeak, seen);
        } else {
            m_windows.back().childPeak = std::max(m_windows.back().childPeak, seen);
        }
        memory->resetPeak();
        window.childPeak = memory->liveBytes();
    }
    TimelineSpan span;
    span.name = name;
    span.stage = stage;
    span.layer = layer;
    span.depth = static_cast<int>(m_open.size());
    span.startUs = nowUs() - m_originUs;
    m_spans.push_back(std::move(span));
    m_open.push_back(m_spans.size() - 1);
    m_windows.push_back(window);
    return m_spans.size() - 1;
}

void Timeline::close(std::size_t index) {
    if (m_open.empty() || m_open.back() != index) return;  // guards close in reverse order; anything else is a bug upstream
    if (m_options.synchronize) m_options.synchronize();
    auto& span = m_spans[index];
    span.durationUs = nowUs() - m_originUs - span.startUs;
    const auto window = m_windows.back();
    m_open.pop_back();
    m_windows.pop_back();
    if (auto* memory = m_options.memory) {
        const auto peak = std::max(window.childPeak, memory->peakBytes());
        span.peakBytes = peak - m_baseline;
        if (m_windows.empty()) {
            m_outerPeak = std::max(m_outerPeak, peak);
        } else {
            m_windows.back().childPeak = std::max(m_windows.back().childPeak, peak);
        }
    }
}

TimelineScope::TimelineScope(Timeline* timeline) : m_previous(t_current) { t_current = timeline; }
TimelineScope::~TimelineScope() { t_current = m_previous; }

TimelineSpanGuard::TimelineSpanGuard(const char* name, Stage stage, int layer, bool subStage) {
    auto* timeline = t_current;
    if (!timeline || (subStage && !timeline->wantsSubStages())) return;
    m_timeline = timeline;
    m_index = timeline->open(name, stage, layer, subStage);
}

TimelineSpanGuard::~TimelineSpanGuard() {
    if (m_timeline) m_timeline->close(m_index);
}

std::vector<LayerStageTimes> layerStageTimes(const std::vector<TimelineSpan>& spans, Stage stage, int layers) {
    std::vector<LayerStageTimes> out(static_cast<std::size_t>(std::max(layers, 0)));
    int openLayer = -1, layerDepth = -1;
    for (const auto& s : spans) {
        if (s.name == "layer" && s.stage == stage) {
            openLayer = s.layer >= 0 && s.layer < layers ? s.layer : -1;
            layerDepth = s.depth;
            if (openLayer >= 0) out[static_cast<std::size_t>(openLayer)].totalMs += s.durationUs / 1000.0;
            continue;
        }
        if (openLayer < 0 || s.depth != layerDepth + 1 || s.layer != openLayer) {
            if (s.depth <= layerDepth) openLayer = -1;
            continue;
        }
        auto& t = out[static_cast<std::size_t>(openLayer)];
        const double ms = s.durationUs / 1000.0;
        if (s.name == "attention") t.attentionMs += ms;
        else if (s.name == "mlp") t.mlpMs += ms;
        else if (s.name.rfind("reduce", 0) == 0) t.reduceMs += ms;
    }
    for (auto& t : out) t.otherMs = std::max(0.0, t.totalMs - t.attentionMs - t.reduceMs - t.mlpMs);
    return out;
}

namespace {

void appendEvents(nlohmann::json& events, const std::vector<TimelineSpan>& spans, const std::string& process, int pid) {
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", pid}, {"tid", 1}, {"args", {{"name", process}}}});
    for (const auto& s : spans) {
        nlohmann::json args;
        if (s.layer >= 0) args["layer"] = s.layer;
        if (s.peakBytes >= 0) args["activation_peak_mib"] = static_cast<double>(s.peakBytes) / (1024.0 * 1024.0);
        const std::string name = s.layer >= 0 && s.name == "layer" ? s.name + " " + std::to_string(s.layer) : s.name;
        events.push_back({{"name", name}, {"cat", stageName(s.stage)}, {"ph", "X"}, {"ts", s.startUs},
                          {"dur", s.durationUs}, {"pid", pid}, {"tid", 1}, {"args", args}});
    }
}

}  // namespace

std::string chromeTraceJson(const std::vector<TimelineSpan>& spans, const std::string& process, int processId) {
    nlohmann::json doc;
    doc["traceEvents"] = nlohmann::json::array();
    appendEvents(doc["traceEvents"], spans, process, processId);
    doc["displayTimeUnit"] = "ms";
    return doc.dump(1);
}

std::string chromeTraceJson(const std::vector<std::pair<std::string, std::vector<TimelineSpan>>>& runs) {
    nlohmann::json doc;
    doc["traceEvents"] = nlohmann::json::array();
    int pid = 1;
    for (const auto& [process, spans] : runs) appendEvents(doc["traceEvents"], spans, process, pid++);
    doc["displayTimeUnit"] = "ms";
    return doc.dump(1);
}

}  // namespace tokenscope
