// PuMer (Cao et al., "PuMer: Pruning and Merging Tokens for Efficient Vision Language Models",
// ACL 2023; csarron/PuMer): text-informed pruning, then modality-aware merging of image and text
// tokens, between attention and MLP of the chosen layers (csarron/PuMer src/pumer/model/vilt/vit_vilt.py,
// src/pumer/model/meter/modules_meter.py; core/reduce/pumer.h).

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/error.h"
#include "methods/reduction_plan.h"

namespace tokenscope {

namespace {

// The same depth fractions in a model of `depth` layers as in one of `presetDepth` (rounded,
// clamped, duplicates dropped; unchanged for presetDepth or more layers).
std::vector<int> layersAtDepth(const std::vector<int>& layers, int depth, int presetDepth) {
    if (depth >= presetDepth || depth < 1) return layers;
    std::vector<int> scaled;
    for (int l : layers) {
        const int at = std::clamp(static_cast<int>(std::lround(l * depth / static_cast<double>(presetDepth))), 0, depth - 1);
        if (std::find(scaled.begin(), scaled.end(), at) == scaled.end()) scaled.push_back(at);
    }
    return scaled;
}

void plan(const MethodSettings& s, const PlanContext& context, ReductionPlan& plan) {
    const Stage stage = Stage::Fusion;
    const int layers = context.layersAt(stage);
    PumerConfig p;
    p.pruneRatio = s.number("prune");
    p.mergeRatio = s.number("merge");
    p.textMergeRatio = s.number("merge-text");
    p.mode = s.choice("mode") == "fixed" ? ReductionMode::Fixed : ReductionMode::Reference;
    const auto score = s.choice("score");
    p.score = score == "first-head" ? PruneScore::FirstHead
              : score == "key"      ? PruneScore::KeyMetric
              : score == "qk"       ? PruneScore::QueryKey
                                    : PruneScore::MeanHead;
    const auto style = s.choice("merge-style");
    p.mergeStyle = style == "tip" ? ImageMergeStyle::Tip : style == "diff" ? ImageMergeStyle::Diff : ImageMergeStyle::Tome;
    for (double ratio : {p.pruneRatio, p.mergeRatio, p.textMergeRatio}) {
        if (!(ratio >= 0.0 && ratio < 1.0)) throw Error("PuMer ratios must lie in [0, 1)");
    }
    plan.numerics = p.mode;
    for (int l : s.intList("layers")) {
        if (l < 0 || l >= layers)
            throw Error("reduction layer " + std::to_string(l) + " does not exist (the model has layers 0.." +
                        std::to_string(layers - 1) + ")");
        LayerStep step;
        step.op = LayerStep::Op::Pumer;
        step.pumer = p;
        plan.steps[{stage, l}] = step;
    }
}

std::string describeSettings(const MethodSettings& s) {
    std::ostringstream out;
    out << "pumer " << s.choice("mode") << " L";
    const auto layers = s.intList("layers");
    for (std::size_t i = 0; i < layers.size(); ++i) out << (i ? "," : "") << layers[i];
    out << " p" << s.number("prune") << " r" << s.number("merge") << " t" << s.number("merge-text");
    if (s.choice("score") != "mean-head") out << " score=" << s.choice("score");
    if (s.choice("merge-style") != "tome") out << " merge=" << s.choice("merge-style");
    return out.str();
}

}  // namespace

std::vector<int> presetLayersAtDepth(const std::vector<int>& layers, int depth, int presetDepth) {
    return layersAtDepth(layers, depth, presetDepth);
}

MethodDescriptor pumerMethod() {
    MethodDescriptor m;
    m.id = "pumer";
    m.name = "PuMer (prune + merge)";
    m.summary = "Text-informed pruning of image tokens, then merging of similar image and text tokens, in the chosen "
                "layers (Cao et al., ACL 2023; csarron/PuMer).";
    m.hook = MethodHook::BetweenAttentionAndMlp;
    m.families = static_cast<unsigned>(FamilyKind::Vilt) | static_cast<unsigned>(FamilyKind::Meter);
    m.knobs = {
        choiceKnob("mode", "Mode", "reference reproduces the published PuMer code including its quirks; fixed corrects them.",
                   {"reference", "fixed"}, "reference"),
        intListKnob("layers", "Layers", "Reduction layers: the layers (0-based) after whose attention PuMer prunes and "
                                        "merges.", 0, 1000, {2, 5, 8}),
        numberKnob("prune", "Prune p", "Prune ratio p: the share of image tokens thrown away at each reduction layer, those "
                                       "the text pays least attention to.", 0, 0.95, 0.05, 0.1),
        numberKnob("merge", "Merge image r", "Image merge ratio r: the share of the image tokens averaged into their most "
                                             "similar neighbour at each reduction layer.", 0, 0.95, 0.05, 0.3),
        numberKnob("merge-text", "Merge text t", "Text merge ratio t: the share of question tokens merged into similar ones "
                                                 "at each reduction layer.", 0, 0.95, 0.05, 0.2),
        choiceKnob("score", "Score", "How image tokens are ranked for pruning (reference mode's variants).",
                   {"mean-head", "first-head", "key", "qk"}, "mean-head"),
        choiceKnob("merge-style", "Merge style", "How image tokens are merged (reference mode's variants).",
                   {"tome", "tip", "diff"}, "tome"),
    };
    m.knobs[1].layerList = true;
    m.knobs[5].advanced = m.knobs[6].advanced = true;
    // ViLT's (the paper's, in 12 encoder layers) and METER's (csarron/PuMer's released METER
    // settings, in its 6 fusion layers: PuMer's layer_idx / 2; reduce/pumer_meter.h).
    const auto preset = [](std::string name, std::string label, std::vector<int> layers, double p, double r, double t,
                           FamilyKind family, int depth) {
        MethodPreset preset{std::move(name), std::move(label),
                            {{"layers", std::move(layers)}, {"prune", p}, {"merge", r}, {"merge-text", t}}};
        preset.families = static_cast<unsigned>(family);
        preset.depth = depth;
        return preset;
    };
    m.presets = {preset("vqav2", "VQAv2 (paper)", {2, 5, 8}, 0.1, 0.3, 0.2, FamilyKind::Vilt, 12),
                 preset("nlvr2", "NLVR2 (paper)", {2, 5, 8}, 0.1, 0.3, 0.2, FamilyKind::Vilt, 12),
                 preset("snli-ve", "SNLI-VE (paper)", {2, 4, 6, 8}, 0.1, 0.3, 0.2, FamilyKind::Vilt, 12),
                 preset("vqav2", "VQAv2 (released)", {0, 1, 2, 3}, 0.2, 0.2, 0.2, FamilyKind::Meter, 6),
                 preset("snli-ve", "SNLI-VE (released)", {0, 1, 2, 3}, 0.3, 0.5, 0.2, FamilyKind::Meter, 6),
                 preset("nlvr2", "NLVR2 (released)", {1, 2, 3}, 0.3, 0.5, 0.2, FamilyKind::Meter, 6)};
    m.plan = &plan;
    m.describe = &describeSettings;
    return m;
}

}  // namespace tokenscope
