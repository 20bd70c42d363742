// Memory counted where it is allocated (issue "Honest speed and memory"): the counting CPU allocator
// on a known allocation pattern, the timeline's nested allocator windows, per-layer activation peaks
// that fall after a reducing layer, the two protocols, and the masked softmax's lean autograd rule.

#include <QTest>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "config/model_config.h"
#include "engine/engine.h"
#include "engine/memory_probe.h"
#include "engine/timeline.h"
#include "models/transformer_block.h"

using namespace tokenscope;

namespace {

// A counter driven by the test: live bytes set by hand, peak tracked as an allocator would.
class ScriptedCounter final : public MemoryCounter {
public:
    void set(int64_t live) {
        m_live = live;
        m_peak = std::max(m_peak, live);
    }
    int64_t liveBytes() const override { return m_live; }
    int64_t peakBytes() const override { return m_peak; }
    void resetPeak() override { m_peak = m_live; }

private:
    int64_t m_live = 0, m_peak = 0;
};

const TimelineSpan& spanNamed(const Timeline& timeline, const std::string& name) {
    for (const auto& s : timeline.spans())
        if (s.name == name) return s;
    throw std::runtime_error("no span " + name);
}

// A 6-layer ViLT with small width and random weights (a realistic token count: 145 image tokens).
std::unique_ptr<Engine> smallVilt() {
    auto config = builtinModelConfig("vilt-b32");
    config.vilt.hiddenSize = 64;
    config.vilt.numAttentionHeads = 4;
    config.vilt.intermediateSize = 128;
    config.vilt.numHiddenLayers = 6;
    config.vilt.vocabSize = 3062;
    EngineOptions options;
    options.seed = 5;
    return Engine::fromConfig(config, options);
}

BenchRow measure(Engine& engine, const MethodSettings& method, MemoryProtocol protocol) {
    BenchRequest request;
    request.method = method;
    request.batch = 2;
    request.seconds = 0;  // one timed call: the figures come from the untimed memory forward
    request.textLength = 12;
    request.protocol = protocol;
    return engine.benchmark(request);
}

}  // namespace

class TestMemory : public QObject {
    Q_OBJECT
private slots:
    void countingAllocatorCountsEveryByte() {
        auto& counter = installCountingCpuAllocator();
        QVERIFY(memoryCounterFor(torch::kCPU) == &counter);
        const auto before = counter.liveBytes();
        counter.resetPeak();
        {
            auto a = torch::empty({1000}, torch::kFloat);  // 4000 bytes
            QCOMPARE(counter.liveBytes() - before, int64_t{4000});
            {
                auto b = torch::empty({250, 4}, torch::kDouble);  // 8000 bytes
                QCOMPARE(counter.liveBytes() - before, int64_t{12000});
            }
            QCOMPARE(counter.liveBytes() - before, int64_t{4000});
            QCOMPARE(counter.peakBytes() - before, int64_t{12000});
            counter.resetPeak();
            QCOMPARE(counter.peakBytes() - before, int64_t{4000});
            auto c = torch::zeros({0}, torch::kFloat);  // nothing
            QCOMPARE(counter.liveBytes() - before, int64_t{4000});
            auto d = a.clone();  // an operator's own allocation is counted too
            QCOMPARE(counter.liveBytes() - before, int64_t{8000});
        }
        QCOMPARE(counter.liveBytes(), before);
    }

    void timelineWindowsNest() {
        ScriptedCounter counter;
        counter.set(100);
        Timeline::Options options;
        options.memory = &counter;
        Timeline timeline(options);
        QCOMPARE(timeline.baselineBytes(), int64_t{100});
        {
            const TimelineScope scope(&timeline);
            {
                const TimelineSpanGuard outer("layer", Stage::Fusion, 0);
                counter.set(400);  // peak 300 above the baseline inside "layer", before its child
                counter.set(150);
                {
                    const TimelineSpanGuard inner("attention", Stage::Fusion, -1, true);
                    counter.set(250);
                    counter.set(120);
                }
                counter.set(130);
            }
            {
                const TimelineSpanGuard next("layer", Stage::Fusion, 1);
                counter.set(200);
                counter.set(110);
            }
            const TimelineSpanGuard notRecorded("mlp", Stage::Fusion, -1, true);
            (void)notRecorded;
        }
        QCOMPARE(spanNamed(timeline, "attention").peakBytes, int64_t{150});  // 250 - 100
        QCOMPARE(spanNamed(timeline, "attention").layer, 0);               // inherited from "layer 0"
        QCOMPARE(spanNamed(timeline, "attention").depth, 1);
        QCOMPARE(timeline.spans()[0].peakBytes, int64_t{300});  // the child's reset does not hide the earlier 400
        QCOMPARE(timeline.spans()[2].peakBytes, int64_t{100});  // layer 1: 200 - 100
        QCOMPARE(timeline.peakBytes(), int64_t{300});
        QCOMPARE(timeline.spans().size(), std::size_t{4});  // sub-stage spans recorded (subStages default on)

        Timeline::Options layersOnly;
        layersOnly.memory = &counter;
        layersOnly.subStages = false;
        Timeline coarse(layersOnly);
        {
            const TimelineScope scope(&coarse);
            const TimelineSpanGuard layer("layer", Stage::Fusion, 0);
            const TimelineSpanGuard attention("attention", Stage::Fusion, -1, true);
        }
        QCOMPARE(coarse.spans().size(), std::size_t{1});
    }

    void chromeTraceHasOneEventPerSpan() {
        std::vector<TimelineSpan> spans(2);
        spans[0].name = "layer";
        spans[0].layer = 3;
        spans[0].stage = Stage::Fusion;
        spans[0].durationUs = 10;
        spans[0].peakBytes = 2 * 1024 * 1024;
        spans[1].name = "reduce.prune";
        spans[1].layer = 3;
        spans[1].depth = 1;
        spans[1].startUs = 2;
        spans[1].durationUs = 3;
        const auto doc = nlohmann::json::parse(chromeTraceJson(spans, "pumer"));
        const auto& events = doc.at("traceEvents");
        QCOMPARE(events.size(), std::size_t{3});
        QCOMPARE(events[0].at("ph").get<std::string>(), std::string("M"));
        QCOMPARE(events[0].at("args").at("name").get<std::string>(), std::string("pumer"));
        QCOMPARE(events[1].at("name").get<std::string>(), std::string("layer 3"));
        QCOMPARE(events[1].at("cat").get<std::string>(), std::string("fusion"));
        QCOMPARE(events[1].at("args").at("activation_peak_mib").get<double>(), 2.0);
        QCOMPARE(events[2].at("name").get<std::string>(), std::string("reduce.prune"));
        QCOMPARE(events[2].at("ts").get<double>(), 2.0);
        QCOMPARE(events[2].at("dur").get<double>(), 3.0);
        QVERIFY(!events[2].at("args").contains("activation_peak_mib"));
    }

    void layersAfterTheReducerHoldLess() {
        auto engine = smallVilt();
        MethodSettings pumer = presetSettings("pumer", "vqav2");
        pumer.set("layers", std::vector<int>{1});
        const auto none = measure(*engine, MethodSettings{}, MemoryProtocol::Inference);
        const auto reduced = measure(*engine, pumer, MemoryProtocol::Inference);
        for (const auto* row : {&none, &reduced}) {
            QCOMPARE(row->memory.protocol, MemoryProtocol::Inference);
            QCOMPARE(row->memory.counter, std::string("cpu-counting-allocator"));
            QCOMPARE(row->memory.layerActivationPeakBytes.size(), std::size_t{6});
            QVERIFY(row->memory.activationsPeakBytes > 0);
            for (const auto bytes : row->memory.layerActivationPeakBytes) {
                QVERIFY(bytes > 0);
                QVERIFY(bytes <= row->memory.activationsPeakBytes);
            }
        }
        // Layer 0 sees the same tokens; every layer after the reducing one sees fewer.
        QCOMPARE(reduced.imageTokensPerLayer.at(0), none.imageTokensPerLayer.at(0));
        for (std::size_t l = 2; l < 6; ++l) {
            const auto r = reduced.memory.layerActivationPeakBytes[l], n = none.memory.layerActivationPeakBytes[l];
            QVERIFY2(r < n, qPrintable(QStringLiteral("layer %1: %2 vs %3 bytes").arg(l).arg(r).arg(n)));
        }
        // Weights: the parameters of the model, as bytes of float32.
        int64_t parameters = engine->summary().parameterCount;
        QCOMPARE(none.memory.weightsBytes, parameters * 4);
    }

    void autogradKeepsEveryLayer() {
        auto engine = smallVilt();
        const auto inference = measure(*engine, MethodSettings{}, MemoryProtocol::Inference);
        const auto autograd = measure(*engine, MethodSettings{}, MemoryProtocol::Autograd);
        QCOMPARE(autograd.memory.protocol, MemoryProtocol::Autograd);
        // With the graph recorded every layer's saved tensors stay: the per-layer peaks grow.
        const auto& layers = autograd.memory.layerActivationPeakBytes;
        for (std::size_t l = 1; l < layers.size(); ++l) QVERIFY(layers[l] > layers[l - 1]);
        QVERIFY(autograd.memory.activationsPeakBytes > 2 * inference.memory.activationsPeakBytes);
        // In inference the layers are alike (no reducer): within a few percent of each other.
        const auto& flat = inference.memory.layerActivationPeakBytes;
        const auto [low, high] = std::minmax_element(flat.begin(), flat.end());
        QVERIFY(static_cast<double>(*high) < 1.1 * static_cast<double>(*low));
    }

    void maskedSoftmaxKeepsLessForBackward() {
        torch::manual_seed(0);
        const auto scores = torch::randn({2, 3, 5, 7}, torch::kFloat);
        auto mask = torch::ones({2, 7});
        mask[0][6] = 0;
        mask[1][2] = 0.5;
        // PuMer's differentiable_masked_softmax written out with plain differentiable ops.
        const auto reference = [&](const torch::Tensor& s) {
            auto m = mask.view({2, 1, 1, 7});
            m = m + (1 - m) * torch::eye(5, 7).view({1, 1, 5, 7});
            const auto w = (s - std::get<0>(s.max(-1, true))).exp() * m;
            return (w + 1e-6 / 7) / (w.sum(-1, true) + 1e-6);
        };
        const auto upstream = torch::randn({2, 3, 5, 7});
        auto a = scores.clone().requires_grad_(true);
        auto b = scores.clone().requires_grad_(true);
        const auto ours = multiplicativeMaskedSoftmax(a, mask);
        const auto theirs = reference(b);
        QVERIFY(torch::equal(ours, theirs));  // same operations in the same order
        (ours * upstream).sum().backward();
        (theirs * upstream).sum().backward();
        QVERIFY(torch::allclose(a.grad(), b.grad(), 1e-5, 1e-6));

        // What stays alive for backward: P only (which the caller holds anyway), not exp() and the
        // unnormalised weights besides it.
        auto& counter = installCountingCpuAllocator();
        const auto big = torch::randn({4, 4, 64, 64}, torch::kFloat);
        const auto bigMask = torch::ones({4, 64});
        const int64_t tensorBytes = big.numel() * 4;
        auto x = big.clone().requires_grad_(true);
        const auto before = counter.liveBytes();
        auto p = multiplicativeMaskedSoftmax(x, bigMask);
        const auto kept = counter.liveBytes() - before;
        QVERIFY2(kept < tensorBytes + tensorBytes / 4, qPrintable(QStringLiteral("%1 bytes kept").arg(kept)));
    }
};

QTEST_APPLESS_MAIN(TestMemory)
#include "tst_memory.moc"
