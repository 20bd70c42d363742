#pragma once

// Stand-ins for the window's worker (ui/inference_worker.h): a backend base that reports a
// LLaVA-NeXT-like model (it generates and selects visual tokens), for tests that script what
// its selections and answers do.

#include <string>
#include <utility>

#include "ui/inference_worker.h"

namespace tokenscope::test {

class GeneratingStandIn : public ModelBackend {
public:
    explicit GeneratingStandIn(std::string source) : m_source(std::move(source)) {}
    ModelSummary summary() const override
    {
        ModelSummary summary;
        summary.config.family = ModelFamily::LlavaNext;
        summary.source = m_source;
        return summary;
    }
    FamilyCapabilities capabilities() const override
    {
        FamilyCapabilities capabilities;
        capabilities.family = FamilyKind::Llava;
        capabilities.generates = true;
        capabilities.selectsVisualTokens = true;
        return capabilities;
    }

private:
    std::string m_source;
};

}  // namespace tokenscope::test
