// "none": the unreduced model, in every family.

#include "methods/reduction_plan.h"

namespace tokenscope {

MethodDescriptor noneMethod() {
    MethodDescriptor m;
    m.id = "none";
    m.name = "None (unreduced)";
    m.summary = "The model as it is: every token in every layer.";
    m.aliases = {"full"};  // LLaVA's old spelling
    m.hook = MethodHook::None;
    m.families = kAllFamilies;
    return m;
}

}  // namespace tokenscope
