// ViLT under training (trainVilt): its model folders, DynamicViT's predictors and config, batches
// of ViLT inputs, the training forward and what the auxiliary losses read from it.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "common/error.h"
#include "config/model_config.h"
#include "image/vilt_preprocess.h"
#include "methods/reduction_plan.h"
#include "models/dynamic_vit.h"
#include "models/vilt.h"
#include "text/bert_tokenizer.h"
#include "train/trainer_internal.h"

namespace tokenscope {

namespace fs = std::filesystem;

namespace {

using trainer::Batch;

Vilt loadVilt(const std::string& dir, const ViltConfig& config, uint64_t seed, bool requireWeights) {
    Vilt model(config);
    const bool hasWeights = fs::exists(fs::path(dir) / "model.safetensors") || fs::exists(fs::path(dir) / "pytorch_model.bin") ||
                            fs::exists(fs::path(dir) / "model.safetensors.index.json");
    if (hasWeights) {
        const auto checkpoint = Checkpoint::open(dir);
        const auto names = checkpoint.names();
        const bool hasPredictors = std::any_of(names.begin(), names.end(), isDynamicVitParameter);
        if (config.dynamicVit && !hasPredictors) {
            // A backbone without DynamicViT predictors: they keep their initialisation.
            for (const auto& child : model->named_children()) {
                if (child.key() == "dynamicvit") continue;
                StateDictOptions load;
                load.prefix = child.key() + ".";
                loadStateDict(*child.value(), checkpoint, load);
            }
        } else {
            loadStateDict(*model, checkpoint, {});
        }
    } else if (requireWeights) {
        throw Error(dir + ": no weights (model.safetensors) in this folder");
    } else {
        initialiseRandomWeights(*model, seed);
    }
    return model;
}

// Method dynamicvit: writes "dynamicvit_config" into the folder's config.json (locations: the
// method's, else the folder's, else DynamicViT's default for the depth; the method's keep ratio).
void writeDynamicVitConfig(const fs::path& dir, const TrainOptions& o, const ViltConfig& config) {
    auto locations = o.method.intList("prune-loc");
    if (locations.empty()) locations = config.dynamicVit ? config.dynamicVit->pruneLocations
                                                         : defaultDynamicVitLocations(config.numHiddenLayers);
    const auto path = (dir / "config.json").string();
    nlohmann::json json;
    {
        std::ifstream in(path);
        try {
            in >> json;
        } catch (const std::exception& e) {
            throw Error(path + ": unreadable: " + e.what());
        }
    }
    json["dynamicvit_config"] = {{"prune_locations", locations}, {"keep_ratio", o.method.number("keep-ratio")}};
    std::ofstream out(path);
    out << json.dump(2) << "\n";
    if (!out) throw Error(path + ": cannot write");
}

class ViltTrainee final : public trainer::Trainee {
public:
    explicit ViltTrainee(const TrainOptions& o) : m_options(o) {
        const fs::path dir(o.modelDir);
        const bool isDynamicVit = o.method.is("dynamicvit");
        if (o.trainPredictorOnly && !isDynamicVit) throw Error("training only the predictors needs --method dynamicvit");
        if (isDynamicVit) writeDynamicVitConfig(dir, o, loadModelConfig((dir / "config.json").string()).vilt);
        const auto config = loadModelConfig((dir / "config.json").string());
        if (config.family != ModelFamily::Vilt || config.vilt.head != ViltHead::QuestionAnswering)
            throw Error((dir / "config.json").string() + ": training needs a ViltForQuestionAnswering config");
        m_config = config.vilt;
        m_labelCount = static_cast<int64_t>(m_config.id2label.size());
        m_tokenizer = BertTokenizer::fromVocabFile((dir / "vocab.txt").string());
        const auto preprocessPath = dir / "preprocessor_config.json";
        if (fs::exists(preprocessPath)) m_preprocess = loadViltPreprocessConfig(preprocessPath.string());
        m_plan = makePlan(o.method, viltPlanContext(m_config));
        if (m_plan.shortestEdge > 0)
            throw Error("training at a smaller resolution: set the model's preprocessor_config.json shortest_edge instead");
        // The training forward of DynamicViT: Gumbel decisions as masks (validation prunes).
        m_trainPlan = m_plan;
        if (isDynamicVit) m_trainPlan.dynamicVit->training = true;

        torch::manual_seed(o.seed);
        m_model = loadVilt(o.modelDir, m_config, o.seed, false);
        m_model->train();
        if (!o.teacherDir.empty()) {
            const auto teacherConfig = loadModelConfig((fs::path(o.teacherDir) / "config.json").string());
            if (teacherConfig.family != ModelFamily::Vilt || teacherConfig.vilt.id2label != m_config.id2label)
                throw Error(o.teacherDir + ": the teacher must be a ViLT VQA model with the same answers");
            m_teacher = loadVilt(o.teacherDir, teacherConfig.vilt, 0, true);
            m_teacher->eval();
            for (auto& p : m_teacher->parameters()) p.set_requires_grad(false);
        }
    }

    torch::nn::Module& model() override { return *m_model; }
    std::vector<std::pair<std::string, torch::Tensor>> trainableParameters() override {
        return dynamicVitTrainableParameters(*m_model, m_options.trainPredictorOnly);
    }
    int64_t labelCount() const override { return m_labelCount; }
    int stateLayers() const override { return m_config.numHiddenLayers; }
    int64_t stateWidth(int) const override { return m_config.hiddenSize; }
    int attentionLayers() const override { return m_config.numHiddenLayers; }
    int64_t textWidth() const override { return m_config.hiddenSize; }
    int keepStages() const override { return m_trainPlan.dynamicVit ? static_cast<int>(m_trainPlan.dynamicVit->locations.size()) : 0; }

    Batch makeBatch(const std::vector<TrainExample>& examples) const override {
        Batch batch;
        const auto n = static_cast<int64_t>(examples.size());
        const auto maxText = static_cast<std::size_t>(m_config.maxPositionEmbeddings);
        std::vector<TextEncoding> encodings;
        std::vector<std::vector<std::string>> tokens;
        std::size_t longest = 0;
        std::vector<ImageU8> images;
        for (const auto& e : examples) {
            encodings.push_back(m_tokenizer->encode(e.question, maxText, false));
            tokens.push_back(encodings.back().tokens);
            longest = std::max(longest, encodings.back().inputIds.size());
            images.push_back(e.image);
        }
        auto ids = torch::zeros({n, static_cast<int64_t>(longest)}, torch::kLong);
        auto mask = torch::zeros({n, static_cast<int64_t>(longest)}, torch::kLong);
        for (int64_t b = 0; b < n; ++b) {
            const auto length = static_cast<int64_t>(encodings[b].inputIds.size());
            ids[b].narrow(0, 0, length).copy_(torch::tensor(encodings[b].inputIds, torch::kLong));
            mask[b].narrow(0, 0, length).copy_(torch::tensor(encodings[b].attentionMask, torch::kLong));
        }
        auto pixels = preprocessVilt(images, m_preprocess);
        batch.inputs.inputIds = ids;
        batch.inputs.attentionMask = mask;
        batch.inputs.pixelValues = pixels.pixelValues;
        batch.inputs.pixelMask = pixels.pixelMask;
        fillSupervision(batch, examples, tokens, m_labelCount);
        return batch;
    }

    Forward trainingForward(const Batch& batch, bool hiddenStates, bool attentions) override {
        ViltForwardOptions forward;
        forward.plan = &m_trainPlan;
        forward.keepHiddenStates = hiddenStates;
        forward.keepAttentions = attentions;
        auto outputs = m_model->forward(batch.inputs, forward);
        Forward result;
        result.logits = outputs.logits;
        auto& encoding = outputs.images.front();
        result.keepFractions = encoding.keepFractions;
        // The sequence is text, the image [CLS], then the patches; the text [CLS] is the "nothing" key.
        auto& view = result.view;
        const int64_t patches = encoding.imagePatchIndex.size(1), offset = encoding.textLength + 1;
        for (const auto& hidden : encoding.hiddenStates) view.patchStates.push_back(hidden.narrow(1, offset, patches));
        view.attentions = encoding.attentions;
        view.patchKeyOffset = offset;
        const auto& where = encoding.imagePatchIndex;  // [B, N, 2] (row, col)
        view.cells = where.select(2, 0) * encoding.gridWidth + where.select(2, 1);
        view.gridHeight = encoding.gridHeight;
        view.gridWidth = encoding.gridWidth;
        if (!encoding.hiddenStates.empty()) view.textCls = encoding.hiddenStates.back().select(1, 0);
        return result;
    }

    torch::Tensor teacherLogits(const Batch& batch) override {
        if (!m_teacher) return {};
        torch::NoGradGuard noGrad;
        return m_teacher->forward(batch.inputs).logits;
    }

    torch::Tensor predict(const Batch& batch) override {
        ViltForwardOptions forward;
        forward.plan = &m_plan;
        return m_model->forward(batch.inputs, forward).logits;
    }

private:
    const TrainOptions& m_options;
    ViltConfig m_config;
    int64_t m_labelCount = 0;
    std::optional<BertTokenizer> m_tokenizer;
    ViltPreprocessConfig m_preprocess;
    ReductionPlan m_plan, m_trainPlan;
    Vilt m_model{nullptr}, m_teacher{nullptr};
};

}  // namespace

TrainSummary trainVilt(const TrainOptions& o) {
    trainer::checkRunOptions(o);
    ViltTrainee trainee(o);
    return trainer::runTraining(o, trainee);
}

}  // namespace tokenscope
