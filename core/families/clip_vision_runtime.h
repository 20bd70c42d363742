#pragma once

// Core-internal: a CLIP vision tower on its own (transformers CLIPVisionModel), the family of
// LLaVA's vision encoder checked for parity through `tokenscope-cli forward`.

#include "families/family_runtime.h"
#include "models/clip_vision.h"

namespace tokenscope {

class ClipVisionRuntime : public FamilyRuntime {
public:
    ClipVisionRuntime(const ClipVisionConfig& config, RuntimeContext& context);

    FamilyCapabilities capabilities() const override;
    torch::nn::Module& module() override { return *m_clip; }
    void forwardFile(const std::string& inputsPath, const std::string& outputsPath, const MethodSettings& method) override;

private:
    ClipVision m_clip{nullptr};
};

}  // namespace tokenscope
