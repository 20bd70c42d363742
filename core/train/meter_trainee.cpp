// METER under training (trainMeter): a folder with config.json (model_type meter, METER's keys and
// id2label), vocab.json + merges.txt and optionally model.safetensors; batches of RoBERTa ids and
// METER's image transform; the training forward in the config's stream order, and what the
// auxiliary losses read from it: the image stream's patch tokens after each CLIP block and then
// after each fusion layer, the text side's cross-attention over the image (key 0, the image
// [CLS], is the "nothing" slot) and the text [CLS] after the last fusion layer.
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "common/error.h"
#include "io/json_file.h"
#include "config/id2label.h"
#include "config/meter_config.h"
#include "image/meter_preprocess.h"
#include "models/meter.h"
#include "models/meter_plan.h"
#include "text/bpe_tokenizer.h"
#include "train/trainer_internal.h"

namespace tokenscope {

namespace fs = std::filesystem;

namespace {

using trainer::Batch;

// Byte-level BPE marks a word that follows a space with "Ġ"; the grounded words are plain.
std::string plainWord(const std::string& token) {
    static const std::string space = "\xC4\xA0";  // U+0120
    return token.rfind(space, 0) == 0 ? token.substr(space.size()) : token;
}

// A METER folder's config (from the checkpoint's shapes when there are weights) and the model, with
// its weights or, without them and when allowed, random ones.
struct MeterFolder {
    nlohmann::json json;
    MeterConfig config;
    Meter model{nullptr};
};

MeterFolder openMeterFolder(const fs::path& dir, uint64_t seed, bool needsWeights) {
    const auto configPath = (dir / "config.json").string();
    MeterFolder folder;
    folder.json = nlohmann::json::parse(readTextFile(configPath, "the model config"), nullptr, false);
    if (folder.json.is_discarded() || !folder.json.is_object()) throw Error(configPath + ": not a JSON object");
    if (folder.json.value("model_type", "") != "meter") throw Error(configPath + ": training METER needs a config.json with model_type meter");
    const auto weights = dir / "model.safetensors";
    const bool hasWeights = fs::exists(weights);
    if (needsWeights && !hasWeights) throw Error(weights.string() + ": no such file");
    std::optional<Checkpoint> checkpoint;
    if (hasWeights) checkpoint.emplace(Checkpoint::open(weights.string()));
    folder.config = hasWeights ? meterConfigFromCheckpoint(folder.json, checkpointShapes(*checkpoint), configPath)
                               : parseMeterHyperParameters(folder.json, configPath);
    if (!folder.config.heads.vqa) throw Error(configPath + ": training METER needs a VQA head (loss_names.vqa = 1)");
    folder.model = Meter(folder.config);
    if (checkpoint) {
        folder.model->loadWeights(*checkpoint);  // a missing tensor is an Error naming it
    } else {
        folder.model->initialiseRandom(seed);
    }
    return folder;
}

class MeterTrainee final : public trainer::Trainee {
public:
    explicit MeterTrainee(const TrainOptions& o) {
        const fs::path dir(o.modelDir);
        const auto configPath = (dir / "config.json").string();
        if (o.trainPredictorOnly) throw Error("METER has no DynamicViT predictors to train");
        torch::manual_seed(o.seed);
        auto folder = openMeterFolder(dir, o.seed, false);
        m_config = folder.config;
        m_model = folder.model;
        m_labelCount = m_config.heads.vqaLabels;
        const auto labels = parseId2Label(folder.json, configPath);
        if (static_cast<int64_t>(labels.size()) != m_labelCount)
            throw Error(configPath + ": id2label must name the VQA head's " + std::to_string(m_labelCount) + " answers");
        // A reducer in place (PuMer's recipe: fine-tune with it): the same plan the engine runs.
        const auto plan = makePlan(o.method, meterPlanContext(m_config));
        if (plan.shortestEdge > 0) throw Error("training at a smaller resolution: set the model's image_size instead");
        m_reduction = meterReductionFor(plan, m_config);
        m_tokenizer = BpeTokenizer::fromDirectory(o.modelDir);
        m_preprocess.size = m_config.vision.imageSize;
        m_preprocess.style = m_config.streamOrder == MeterStreamOrder::Sequential ? MeterResizeStyle::Squash
                                                                                    : MeterResizeStyle::ShorterSideThenCrop;
        m_model->train();
        if (!o.teacherDir.empty()) {
            auto teacher = openMeterFolder(o.teacherDir, 0, true);
            if (parseId2Label(teacher.json, (fs::path(o.teacherDir) / "config.json").string()) != labels ||
                teacher.config.maxTextLen != m_config.maxTextLen || teacher.config.vision.imageSize != m_config.vision.imageSize)
                throw Error(o.teacherDir + ": the teacher must be a METER VQA model with the same answers, max_text_len and image size");
            m_teacher = teacher.model;
            m_teacher->eval();
            for (auto& p : m_teacher->parameters()) p.set_requires_grad(false);
        }
    }

    torch::nn::Module& model() override { return *m_model; }
    std::vector<std::pair<std::string, torch::Tensor>> trainableParameters() override {
        std::vector<std::pair<std::string, torch::Tensor>> out;
        for (const auto& item : m_model->named_parameters(true)) out.emplace_back(item.key(), item.value());
        return out;
    }
    int64_t labelCount() const override { return m_labelCount; }
    int stateLayers() const override { return m_config.vision.blocks + m_config.numTopLayer; }
    int64_t stateWidth(int layer) const override { return layer <= m_config.vision.blocks ? m_config.vision.width : m_config.hiddenSize; }
    int attentionLayers() const override { return m_config.numTopLayer; }
    int64_t textWidth() const override { return m_config.hiddenSize; }

    Batch makeBatch(const std::vector<TrainExample>& examples) const override {
        Batch batch;
        const auto n = static_cast<int64_t>(examples.size());
        // Every question padded to max_text_len, as METER's data module pads (padding="max_length"):
        // PuMer's masked softmax lets image token i see text key i even where it is padding, so
        // the padded length is part of the model's function and must be the one it answers with.
        const auto length = static_cast<int64_t>(m_config.maxTextLen);
        auto ids = torch::empty({n, length}, torch::kLong), mask = torch::empty({n, length}, torch::kLong);
        std::vector<std::vector<std::string>> tokens;
        std::vector<ImageU8> images;
        for (int64_t b = 0; b < n; ++b) {
            const auto& e = examples[static_cast<std::size_t>(b)];
            const auto encoding = m_tokenizer->encodePadded(e.question, static_cast<std::size_t>(length));
            ids[b].copy_(torch::tensor(encoding.inputIds, torch::kLong));
            mask[b].copy_(torch::tensor(encoding.attentionMask, torch::kLong));
            auto& words = tokens.emplace_back();
            for (const auto id : encoding.inputIds) words.push_back(plainWord(m_tokenizer->tokenOf(id)));
            images.push_back(e.image);
        }
        batch.meterInputs.inputIds = ids;
        batch.meterInputs.attentionMask = mask;
        batch.meterInputs.pixelValues = preprocessMeter(images, m_preprocess);
        fillSupervision(batch, examples, tokens, m_labelCount);
        return batch;
    }

    Forward trainingForward(const Batch& batch, bool hiddenStates, bool attentions) override {
        MeterForwardOptions forward;
        forward.task = MeterTask::Vqa;
        forward.keepHiddenStates = hiddenStates;
        forward.keepAttentions = attentions;
        forward.reduction = m_reduction;
        forward.recordProvenance = false;
        auto outputs = m_model->forward(batch.meterInputs, forward);
        Forward result;
        result.logits = outputs.logits;
        const auto& pass = outputs.passes.front();
        auto& view = result.view;
        const int64_t grid = m_config.vision.imageSize / m_config.vision.patchSize, patches = grid * grid;
        const auto patchesOf = [patches](const torch::Tensor& states) { return states.narrow(1, 1, patches); };
        if (hiddenStates) {
            view.patchStates.push_back(patchesOf(pass.imageLnPre));
            for (const auto& block : pass.imageBlocks) view.patchStates.push_back(patchesOf(block));
            for (const auto& step : pass.fusion) view.patchStates.push_back(patchesOf(step.image));
        }
        if (attentions)
            for (const auto& step : pass.fusion) view.attentions.push_back(step.textToImage);
        view.patchKeyOffset = 1;
        view.cells = torch::arange(patches, torch::kLong).unsqueeze(0).expand({result.logits.size(0), patches});
        view.gridHeight = view.gridWidth = grid;
        view.textCls = pass.text.select(1, 0);
        return result;
    }

    torch::Tensor teacherLogits(const Batch& batch) override {
        if (!m_teacher) return {};
        torch::NoGradGuard noGrad;
        MeterForwardOptions forward;
        forward.task = MeterTask::Vqa;
        return m_teacher->forward(batch.meterInputs, forward).logits;
    }

    torch::Tensor predict(const Batch& batch) override {
        MeterForwardOptions forward;
        forward.task = MeterTask::Vqa;
        forward.reduction = m_reduction;
        forward.recordProvenance = false;
        return m_model->forward(batch.meterInputs, forward).logits;
    }

private:
    MeterConfig m_config;
    int64_t m_labelCount = 0;
    std::optional<BpeTokenizer> m_tokenizer;
    MeterPreprocessConfig m_preprocess;
    std::optional<MeterReduction> m_reduction;
    Meter m_model{nullptr}, m_teacher{nullptr};
};

}  // namespace

TrainSummary trainMeter(const TrainOptions& o) {
    trainer::checkRunOptions(o);
    MeterTrainee trainee(o);
    return trainer::runTraining(o, trainee);
}

TrainSummary trainModel(const TrainOptions& o) {
    const auto configPath = (fs::path(o.modelDir) / "config.json").string();
    std::error_code ec;
    if (fs::exists(configPath, ec)) {
        const auto json = nlohmann::json::parse(readTextFile(configPath, "the model config"), nullptr, false);
        if (json.is_object() && json.value("model_type", "") == "meter") return trainMeter(o);
    }
    return trainVilt(o);
}

}  // namespace tokenscope
