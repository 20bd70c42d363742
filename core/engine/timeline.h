#pragma once

// Where a forward pass spends its time and its memory: nested spans (embeddings, every layer, and
// inside a layer its attention, reducer stages and MLP), each with its wall time and the peak of
// the allocator's live bytes inside it. Torch-free plain data, so the window and the CLI read it.
//
// Recording. A Timeline is made current on the thread that runs the forward (TimelineScope); code
// anywhere below marks spans with TimelineSpanGuard, which costs one thread-local load when no
// timeline is current. Spans nest strictly (RAII). Sub-layer spans are recorded only when the
// timeline asks for them (Options::subStages). On a GPU, Options::synchronize is called at both ends
// of every span so that a span's time is the device's time, not the launch time.
//
// Memory windows. A MemoryCounter gives live bytes, the peak since its last reset, and a reset.
// Every span resets the counter's peak when it opens and reads it when it closes; nested windows
// are combined here, so a span's peak covers its whole life although its children reset the counter
// (the CUDA caching allocator offers exactly those three calls; the CPU counting allocator as well).
// Peaks are reported relative to Timeline::baselineBytes(), the live bytes when the timeline started.
//
// Thread: one timeline belongs to the thread that runs the forward. Allocations of other threads
// count in the process-wide counter (LibTorch's intra-op threads allocate little).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tokenscope {

class MemoryCounter {
public:
    virtual ~MemoryCounter() = default;
    virtual int64_t liveBytes() const = 0;
    virtual int64_t peakBytes() const = 0;  // highest live bytes since the last resetPeak()
    virtual void resetPeak() = 0;           // peak := live
};

// The stage a span belongs to (one vocabulary for every model family).
enum class Stage { Embeddings, Vision, Text, Fusion, Projector, Decoder, Head, Other };
const char* stageName(Stage stage);  // "embeddings", "vision", "text", "fusion", "projector", "decoder", "head", "other"

struct TimelineSpan {
    std::string name;  // "layer", "attention", "mlp", "reduce.score", "reduce.prune", ...
    Stage stage = Stage::Other;
    int layer = -1;    // index within the stage, -1 = none
    int depth = 0;     // 0 = outermost
    double startUs = 0;     // since the timeline started
    double durationUs = 0;
    int64_t peakBytes = -1; // live-bytes peak inside the span minus the baseline; -1 = no counter
};

class Timeline {
public:
    struct Options {
        bool subStages = true;                 // record spans below layer level
        MemoryCounter* memory = nullptr;       // peaks per span (nullptr: none)
        std::function<void()> synchronize;     // device barrier at span ends (GPU timing)
    };
    explicit Timeline(Options options);

    // The thread's current timeline (nullptr when none: spans cost nothing then).
    static Timeline* current();

    const std::vector<TimelineSpan>& spans() const { return m_spans; }
    int64_t baselineBytes() const { return m_baseline; }
    // Peak over everything recorded since construction, minus the baseline (-1 without a counter).
    int64_t peakBytes();
    bool wantsSubStages() const { return m_options.subStages; }

    // Used by TimelineSpanGuard.
    std::size_t open(const char* name, Stage stage, int layer, bool subStage);
    void close(std::size_t index);

private:
    struct Window {
        int64_t childPeak = 0;  // max of the peaks read when children opened / closed
    };
    Options m_options;
    double m_originUs = 0;
    int64_t m_baseline = 0;
    int64_t m_outerPeak = 0;  // peak seen by closed top-level windows and before them
    std::vector<TimelineSpan> m_spans;
    std::vector<std::size_t> m_open;  // indices of open spans (innermost last)
    std::vector<Window> m_windows;    // parallel to m_open
};

// Makes `timeline` current on this thread for the guard's lifetime (nullptr: none). Nestable.
class TimelineScope {
public:
    explicit TimelineScope(Timeline* timeline);
    ~TimelineScope();
    TimelineScope(const TimelineScope&) = delete;
    TimelineScope& operator=(const TimelineScope&) = delete;

private:
    Timeline* m_previous;
};

// A span on the current timeline. subStage spans (inside a layer) are skipped unless the timeline
// wants them.
class TimelineSpanGuard {
public:
    TimelineSpanGuard(const char* name, Stage stage, int layer = -1, bool subStage = false);
    ~TimelineSpanGuard();
    TimelineSpanGuard(const TimelineSpanGuard&) = delete;
    TimelineSpanGuard& operator=(const TimelineSpanGuard&) = delete;

private:
    Timeline* m_timeline = nullptr;
    std::size_t m_index = 0;
};

// Where each layer's time went, from the spans named "layer" of one stage and their direct
// children ("attention", "reduce" with its own stages inside, "mlp"; the rest of the layer is
// "other"). Layers missing from the spans get zeros; a layer recorded several times (two images of
// an NLVR2 pair, decode steps) adds up.
struct LayerStageTimes {
    double attentionMs = 0, reduceMs = 0, mlpMs = 0, otherMs = 0, totalMs = 0;
};
std::vector<LayerStageTimes> layerStageTimes(const std::vector<TimelineSpan>& spans, Stage stage, int layers);

// Chrome trace events (the JSON Object Format that chrome://tracing and Perfetto open): one "X"
// event per span, microseconds, the span's stage as the category, layer and peak in args.
// `process` names the run (e.g. "ViLT pumer reference L2,5,8"). Returns the JSON text.
std::string chromeTraceJson(const std::vector<TimelineSpan>& spans, const std::string& process, int processId = 1);
// Several runs side by side in one file (one process row each).
std::string chromeTraceJson(const std::vector<std::pair<std::string, std::vector<TimelineSpan>>>& runs);

}  // namespace tokenscope
