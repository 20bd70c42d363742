#pragma once

// Core-internal: the LLaVA family (families/family_runtime.h): the model, its tokenizer, its image
// processor settings and its generation config. Same threading contract as Engine: one thread at a
// time; the calls create their own c10::InferenceMode.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "config/model_config.h"
#include "engine/generation.h"
#include "families/family_runtime.h"
#include "image/anyres.h"
#include "models/llava_next.h"
#include "text/llava_prompt.h"
#include "text/sentencepiece_tokenizer.h"

namespace tokenscope {

class LlavaRuntime : public FamilyRuntime {
public:
    LlavaRuntime(const LlavaNextConfig& config, RuntimeContext& context);

    FamilyCapabilities capabilities() const override;
    torch::nn::Module& module() override { return *m_model; }
    LlavaNext& model() { return m_model; }
    // Weights in either checkpoint layout (see loadLlavaNextWeights).
    StateDictReport loadWeights(const Checkpoint& checkpoint, const StateDictOptions& options) override;
    // tokenizer.model (+ added tokens), preprocessor_config.json, generation_config.json and the
    // prompt template of a model folder, whichever exist. Throws Error naming a broken file.
    void readFolder(const std::string& folder) override;

    bool hasTokenizer() const override { return m_tokenizer.has_value(); }
    std::vector<int64_t> tokenize(const std::string& text, std::vector<std::string>* pieces) const override;

    GenerateResult generate(const GenerateRequest& request, const GenerateCallback& onToken,
                            const std::atomic<bool>* cancel) override;
    GenerateResult selectVisualTokens(const ImageU8& image, const MethodSettings& method,
                                      const std::atomic<bool>* cancel) override;
    GenerationBenchRow benchmarkGeneration(const GenerationBenchRequest& request) override;
    void generateFile(const std::string& inputsPath, const std::string& outputsPath, int maxNewTokens,
                      const MethodSettings& method) override;
    void forwardFile(const std::string& inputsPath, const std::string& outputsPath, const MethodSettings& method) override;
    // pixel_values [images, max crops, 3, S, S] and image_sizes [images, 2] as the processor makes them.
    void preprocessToFile(const std::vector<ImageU8>& images, const std::string& outputsPath) override;

private:
    struct Pixels {
        torch::Tensor values, sizes;  // on the device: [images, crops, 3, S, S] (model dtype), [images, 2]
    };
    Pixels preprocess(const std::vector<ImageU8>& images) const;
    const SentencePieceTokenizer& tokenizer() const;
    GenerateOptions generateOptions(int maxNewTokens, bool stopAtEos, const std::atomic<bool>* cancel) const;
    void synchronize() const;

    LlavaNextConfig m_config;
    LlavaNext m_model{nullptr};
    AnyResConfig m_preprocess;
    std::optional<SentencePieceTokenizer> m_tokenizer;
    LlavaPromptTemplate m_template = LlavaPromptTemplate::Raw;
    std::vector<int64_t> m_stopTokenIds;  // generation_config.json eos_token_id (int or list)
    int64_t m_padTokenId = 0;
};

}  // namespace tokenscope
