// Uniform dropping at a token budget: image tokens kept on an even stride. ViLT and METER keep
// evenly spaced patches before the first layer (core/models/vilt.h dropImagePatches); LLaVA keeps
// every g-th token of each partition after the projector, g = N / int(N · keep) (the HiRED
// repository's spatial baseline, add_spatial_tokens in hasanar1f/HiRED modeling_llava_next.py).

#include <sstream>

#include "methods/reduction_plan.h"

namespace tokenscope {

namespace {

void plan(const MethodSettings& s, const PlanContext& context, ReductionPlan& plan) {
    if (context.family == FamilyKind::Llava) {
        VisualTokenSettings v;
        v.method = LlavaMethod::Spatial;
        v.budget = s.number("keep");
        plan.visualSelection = v;
        plan.hook = MethodHook::AfterProjector;
        return;
    }
    DropSettings drop;
    drop.kind = DropKind::Uniform;
    drop.keepRatio = s.number("keep");
    plan.embeddingDrop = drop;
}

std::string describeSettings(const MethodSettings& s) {
    std::ostringstream out;
    out << "uniform keep " << s.number("keep");
    return out.str();
}

}  // namespace

MethodDescriptor uniformMethod() {
    MethodDescriptor m;
    m.id = "uniform";
    m.name = "Uniform drop";
    m.summary = "Keeps a `keep` fraction of the image tokens on an even spatial stride (LLaVA: HiRED's spatial baseline).";
    m.aliases = {"spatial"};  // LLaVA's old spelling
    m.hook = MethodHook::Embedding;
    m.families = kAllFamilies;
    auto keep = numberKnob("keep", "Tokens kept", "Fraction of the image tokens kept.", 0.01, 1, 0.01, 0.54);
    keep.aliases = {"budget"};
    m.knobs = {keep};
    m.plan = &plan;
    m.describe = &describeSettings;
    return m;
}

}  // namespace tokenscope
