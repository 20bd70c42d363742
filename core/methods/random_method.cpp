// Random dropping at a token budget: a seeded random subset of the image tokens is kept. ViLT and
// METER drop image patches before the first layer (core/models/vilt.h dropImagePatches); LLaVA keeps
// a random int(N · keep) of each partition's visual tokens after the projector (a seeded random
// counterpart of the spatial baseline add_spatial_tokens in hasanar1f/HiRED modeling_llava_next.py).

#include <sstream>

#include "methods/reduction_plan.h"

namespace tokenscope {

namespace {

void plan(const MethodSettings& s, const PlanContext& context, ReductionPlan& plan) {
    if (context.family == FamilyKind::Llava) {
        VisualTokenSettings v;
        v.method = LlavaMethod::Random;
        v.budget = s.number("keep");
        v.seed = static_cast<uint64_t>(s.integer("drop-seed"));
        plan.visualSelection = v;
        plan.hook = MethodHook::AfterProjector;
        return;
    }
    DropSettings drop;
    drop.kind = DropKind::Random;
    drop.keepRatio = s.number("keep");
    drop.seed = static_cast<uint64_t>(s.integer("drop-seed"));
    plan.embeddingDrop = drop;
}

std::string describeSettings(const MethodSettings& s) {
    std::ostringstream out;
    out << "random keep " << s.number("keep") << " seed " << s.integer("drop-seed");
    return out.str();
}

}  // namespace

MethodDescriptor randomMethod() {
    MethodDescriptor m;
    m.id = "random";
    m.name = "Random drop";
    m.summary = "Keeps a seeded random `keep` fraction of the image tokens (before the first layer; LLaVA: of each "
                "partition's visual tokens).";
    m.hook = MethodHook::Embedding;
    m.families = kAllFamilies;
    auto keep = numberKnob("keep", "Tokens kept", "Fraction of the image tokens kept.", 0.01, 1, 0.01, 0.54);
    keep.aliases = {"budget"};
    auto seed = integerKnob("drop-seed", "Seed", "Seed of the random subset (the same seed gives the same subset).", 0,
                            1 << 30, 0);
    m.knobs = {keep, seed};
    m.plan = &plan;
    m.describe = &describeSettings;
    return m;
}

}  // namespace tokenscope
