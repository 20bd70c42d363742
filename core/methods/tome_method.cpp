// ToMe (Bolya et al., "Token Merging: Your ViT But Faster", ICLR 2023; facebookresearch/ToMe):
// bipartite soft matching on head-mean keys in every layer, size-weighted averages, proportional
// attention (facebookresearch/ToMe tome/merge.py, tome/patch/timm.py; core/reduce/tome.h, runViltTomeLayer in
// core/models/vilt.h).

#include <sstream>

#include "common/error.h"
#include "methods/reduction_plan.h"
#include "reduce/tome_schedule.h"

namespace tokenscope {

namespace {

void plan(const MethodSettings& s, const PlanContext& context, ReductionPlan& plan) {
    const Stage stage = Stage::Fusion;
    const int layers = context.layersAt(stage);
    const auto perLayer = s.intList("schedule");
    std::vector<int64_t> schedule;
    if (perLayer.empty()) {
        schedule = tomeSchedule(layers, s.integer("r"), s.number("inflect"));
    } else {
        schedule = tomeSchedule(layers, std::vector<int64_t>(perLayer.begin(), perLayer.end()));
    }
    plan.tome.joint = s.flag("joint");
    for (int l = 0; l < layers; ++l) {
        LayerStep step;
        step.op = LayerStep::Op::Tome;
        step.tomeR = schedule[static_cast<std::size_t>(l)];
        plan.steps[{stage, l}] = step;
    }
}

std::string describeSettings(const MethodSettings& s) {
    std::ostringstream out;
    out << "tome";
    const auto schedule = s.intList("schedule");
    if (!schedule.empty()) {
        out << " r=[";
        for (std::size_t i = 0; i < schedule.size(); ++i) out << (i ? "," : "") << schedule[i];
        out << "]";
    } else {
        out << " r" << s.integer("r");
        if (s.number("inflect") != 0.0) out << " inflect " << s.number("inflect");
    }
    out << (s.flag("joint") ? " joint" : " image");
    return out.str();
}

}  // namespace

MethodDescriptor tomeMethod() {
    MethodDescriptor m;
    m.id = "tome";
    m.name = "ToMe (merge)";
    m.summary = "Merges the r most similar token pairs in every layer, size-weighted, with proportional attention "
                "(Bolya et al., ICLR 2023; facebookresearch/ToMe).";
    m.hook = MethodHook::BetweenAttentionAndMlp;
    m.families = static_cast<unsigned>(FamilyKind::Vilt);
    m.knobs = {
        integerKnob("r", "r per layer", "ToMe r: how many pairs of the most similar image tokens are merged in every layer.", 0,
                    256, 8),
        numberKnob("inflect", "Shape", "Schedule shape: 0 merges the same r in every layer, positive merges more early, "
                                       "negative more late.", -1, 1, 0.1, 0.0),
        intListKnob("schedule", "Schedule", "An explicit r for each layer, separated by commas; it overrides r and the shape.",
                    0, 10000, {}),
        flagKnob("joint", "merge text with image", "Off: only image tokens are merged; on: the whole text+image sequence is "
                                                   "(the PuMer repository's baseline)."),
    };
    m.knobs[1].advanced = m.knobs[2].advanced = true;
    m.plan = &plan;
    m.describe = &describeSettings;
    return m;
}

}  // namespace tokenscope
