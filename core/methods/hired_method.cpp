// HiRED (Arif et al., "HiRED: Attention-Guided Token Dropping for Efficient Inference of
// High-Resolution Vision-Language Models", arXiv 2408.10945; hasanar1f/HiRED): a budget of LLaVA's
// visual tokens split between the full image and the tiles by CLS attention, chosen per partition
// by the feature layer's CLS attention (hasanar1f/HiRED models/llava_next/modeling_llava_next.py;
// core/reduce/hired.h).

#include <sstream>

#include "methods/reduction_plan.h"

namespace tokenscope {

namespace {

void plan(const MethodSettings& s, const PlanContext&, ReductionPlan& plan) {
    VisualTokenSettings v;
    v.method = LlavaMethod::Hired;
    v.budget = s.number("budget");
    v.alpha = s.number("alpha");
    v.mode = s.choice("mode") == "reference" ? HiredMode::Reference : HiredMode::Paper;
    plan.visualSelection = v;
}

std::string describeSettings(const MethodSettings& s) {
    std::ostringstream out;
    out << "hired " << s.choice("mode") << " budget " << s.number("budget") << " alpha " << s.number("alpha");
    return out.str();
}

}  // namespace

MethodDescriptor hiredMethod() {
    MethodDescriptor m;
    m.id = "hired";
    m.name = "HiRED";
    m.summary = "Keeps a budget of LLaVA's visual tokens, split between the full image and the tiles by CLS attention "
                "(Arif et al., arXiv 2408.10945; hasanar1f/HiRED).";
    m.hook = MethodHook::AfterProjector;
    m.families = static_cast<unsigned>(FamilyKind::Llava);
    m.knobs = {
        numberKnob("budget", "Budget", "Budget: the fraction of the image's visual tokens (full image and tiles together) the "
                                       "language model may read; 1 keeps them all.", 0.05, 1, 0.05, 0.2),
        numberKnob("alpha", "α (full image)", "α: the full image's share of the budget; the tiles share the rest by their "
                                              "attention.", 0, 1, 0.05, 0.5),
        choiceKnob("mode", "Mode", "paper follows the HiRED paper's Algorithm 1; reference reproduces the published HiRED code, "
                                   "quirks included (tile budgets from bands, swapped grids).",
                   {"paper", "reference"}, "paper"),
    };
    m.plan = &plan;
    m.describe = &describeSettings;
    return m;
}

}  // namespace tokenscope
