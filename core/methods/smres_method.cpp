// Smaller input resolution: the baseline the PuMer paper (Cao et al., ACL 2023) compares against:
// the image is resized so that about `keep` of the default patch count remains, position
// embeddings interpolated as usual.

#include <algorithm>
#include <cmath>
#include <sstream>

#include "methods/reduction_plan.h"

namespace tokenscope {

namespace {

void plan(const MethodSettings& s, const PlanContext& context, ReductionPlan& plan) {
    plan.shortestEdge = smallerResolutionEdge(s, context.preprocessShortestEdge, context.preprocessSizeDivisor);
}

std::string describeSettings(const MethodSettings& s) {
    std::ostringstream out;
    out << "smres";
    if (s.integer("resolution") > 0) {
        out << " " << s.integer("resolution") << "px";
    } else {
        out << " keep " << s.number("keep");
    }
    return out.str();
}

}  // namespace

int smallerResolutionEdge(const MethodSettings& settings, int defaultEdge, int sizeDivisor) {
    if (settings.integer("resolution") > 0) return static_cast<int>(settings.integer("resolution"));
    // Patches scale with the area: the edge scales with the square root of the kept fraction, on the
    // size divisor's grid.
    const double keep = std::clamp(settings.number("keep"), 0.01, 1.0);
    const double edge = defaultEdge * std::sqrt(keep);
    const int divisor = std::max(sizeDivisor, 1);
    return std::max(divisor, static_cast<int>(std::lround(edge / divisor)) * divisor);
}

MethodDescriptor smresMethod() {
    MethodDescriptor m;
    m.id = "smres";
    m.name = "Smaller resolution";
    m.summary = "The image at a smaller size, leaving about `keep` of the patches (the PuMer paper's baseline).";
    m.hook = MethodHook::Preprocess;
    m.families = static_cast<unsigned>(FamilyKind::Vilt) | static_cast<unsigned>(FamilyKind::Meter);
    m.knobs = {
        numberKnob("keep", "Patches kept", "Fraction of the image patches the smaller input leaves.", 0.05, 1, 0.01, 0.54),
        integerKnob("resolution", "Shortest edge", "The input's shortest edge in pixels (0 = from the kept fraction).", 0,
                    4096, 0),
    };
    m.plan = &plan;
    m.describe = &describeSettings;
    return m;
}

}  // namespace tokenscope
