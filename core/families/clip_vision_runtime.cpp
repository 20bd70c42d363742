#include "families/clip_vision_runtime.h"

#include "common/error.h"

namespace tokenscope {

ClipVisionRuntime::ClipVisionRuntime(const ClipVisionConfig& config, RuntimeContext& context)
    : FamilyRuntime(context), m_clip(config) {}

FamilyCapabilities ClipVisionRuntime::capabilities() const {
    FamilyCapabilities c;
    c.family = FamilyKind::Llava;  // LLaVA's vision tower: no method runs on it alone
    c.stages = {Stage::Vision};
    c.rawForward = true;
    return c;
}

void ClipVisionRuntime::forwardFile(const std::string& inputsPath, const std::string& outputsPath,
                                    const MethodSettings& method) {
    if (!method.is("none")) throw Error("token reduction methods run on ViLT models only");
    RawTensors raw(inputsPath, device());
    c10::InferenceMode guard;
    ClipVisionOptions options;
    options.keepHiddenStates = options.keepAttentions = true;
    auto outputs = m_clip->forward(raw.take("pixel_values", true), options);
    std::map<std::string, torch::Tensor> out;
    out["last_hidden_state"] = outputs.lastHiddenState;
    out["pooler_output"] = outputs.poolerOutput;
    addLayerOutputs(out, "hidden_states", outputs.hiddenStates);
    addLayerOutputs(out, "attentions", outputs.attentions);
    writeOutputs(outputsPath, std::move(out));
}

}  // namespace tokenscope
