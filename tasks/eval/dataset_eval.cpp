#include "tasks/eval/dataset_eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/error.h"
#include "methods/method_json.h"
#include "tasks/datasets/jsonl_datasets.h"
#include "tasks/datasets/vqa_datasets.h"
#include "tasks/metrics/answer_processing.h"
#include "tasks/metrics/pope_metrics.h"
#include "tasks/metrics/vqa_metrics.h"

namespace tokenscope::evaluation {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const char* const kShortAnswerPrompt = "Answer the question using a single word or phrase.";

namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

uint64_t fnv1a(uint64_t hash, const char* data, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
        hash ^= static_cast<unsigned char>(data[i]);
        hash *= kFnvPrime;
    }
    return hash;
}

std::string hex(uint64_t value) {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
    return text;
}

// Hashes up to `limit` bytes of a file (0: all of it).
uint64_t hashFile(uint64_t hash, const std::string& path, std::uintmax_t limit = 0) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot be read");
    std::vector<char> buffer(1 << 16);
    std::uintmax_t left = limit ? limit : std::numeric_limits<std::uintmax_t>::max();
    while (in && left > 0) {
        in.read(buffer.data(), static_cast<std::streamsize>(std::min<std::uintmax_t>(buffer.size(), left)));
        const auto got = static_cast<std::size_t>(in.gcount());
        if (got == 0) break;
        hash = fnv1a(hash, buffer.data(), got);
        left -= got;
    }
    return hash;
}

std::string joinImage(const std::string& folder, const std::string& file) {
    if (file.empty()) return file;
    const fs::path path(file);
    return path.is_absolute() || folder.empty() ? file : (fs::path(folder) / path).string();
}

std::string normalisedAnswer(const std::string& text) {
    return metrics::vqaProcessAnswer(metrics::vqaCleanAnswer(text));
}

}  // namespace

DatasetKind parseDatasetKind(const std::string& name) {
    for (const DatasetKind kind : {DatasetKind::VqaV2, DatasetKind::TextVqa, DatasetKind::Gqa, DatasetKind::Pope,
                                   DatasetKind::Nlvr2, DatasetKind::Plain})
        if (name == datasetKindName(kind)) return kind;
    throw Error("dataset '" + name + "': expected vqav2, textvqa, gqa, pope, nlvr2 or plain");
}

const char* datasetKindName(DatasetKind kind) {
    switch (kind) {
        case DatasetKind::VqaV2: return "vqav2";
        case DatasetKind::TextVqa: return "textvqa";
        case DatasetKind::Gqa: return "gqa";
        case DatasetKind::Pope: return "pope";
        case DatasetKind::Nlvr2: return "nlvr2";
        case DatasetKind::Plain: return "plain";
    }
    return "plain";
}

std::string fnv1aHex(const std::string& bytes) { return hex(fnv1a(kFnvOffset, bytes.data(), bytes.size())); }

EvalDataset loadEvalDataset(const DatasetSource& source) {
    EvalDataset out;
    out.source = source;
    if (source.questions.empty() && !(source.kind == DatasetKind::VqaV2 && !source.annotations.empty()))
        throw Error(std::string(datasetKindName(source.kind)) + ": no questions file given");
    const std::string anchor = source.questions.empty() ? source.annotations : source.questions;
    if (out.source.images.empty()) out.source.images = fs::path(anchor).parent_path().string();
    const std::string& images = out.source.images;
    uint64_t hash = kFnvOffset;
    const auto add = [&](EvalItem item) { out.items.push_back(std::move(item)); };
    // A layout of one file: its entries (data.*member) as items, its errors, its hash.
    const auto readOne = [&](auto data, auto member, auto toItem) {
        for (const auto& entry : data.*member) add(toItem(entry));
        out.errors = std::move(data.errors);
        hash = hashFile(hash, source.questions);
    };
    switch (source.kind) {
        case DatasetKind::VqaV2: {
            auto data = datasets::readVqaV2(source.questions, source.annotations);
            for (auto& q : data.questions) {
                if (q.question.empty()) {
                    data.errors.push_back({anchor, "question_id " + q.questionId, "no question text (give --questions)", true});
                    continue;
                }
                EvalItem item;
                item.id = q.questionId;
                item.images = {joinImage(images, q.imageFile)};
                item.question = q.question;
                item.group = q.answerType;
                item.vqaAnswers = q.answers;
                add(std::move(item));
            }
            out.errors = std::move(data.errors);
            if (!source.questions.empty()) hash = hashFile(hash, source.questions);
            if (!source.annotations.empty()) hash = hashFile(hash, source.annotations);
            break;
        }
        case DatasetKind::TextVqa:
            readOne(datasets::readTextVqa(source.questions), &datasets::TextVqaDataset::questions, [&](const datasets::TextVqaQuestion& q) {
                return EvalItem{q.questionId, {joinImage(images, q.imageFile)}, q.question, "", {}, q.answers};
            });
            break;
        case DatasetKind::Gqa:
            readOne(datasets::readGqa(source.questions), &datasets::GqaDataset::questions, [&](const datasets::GqaQuestion& q) {
                EvalItem item{q.questionId, {joinImage(images, q.imageFile)}, q.question, q.structuralType, {}, {}};
                if (q.answer) item.answers = {*q.answer};
                return item;
            });
            break;
        case DatasetKind::Pope:
            readOne(datasets::readPope(source.questions), &datasets::PopeDataset::questions, [&](const datasets::PopeQuestion& q) {
                EvalItem item{q.questionId, {joinImage(images, q.image)}, q.text, q.category, {}, {}};
                if (q.label) item.answers = {*q.label};
                return item;
            });
            break;
        case DatasetKind::Nlvr2:
            readOne(datasets::readNlvr2(source.questions), &datasets::Nlvr2Dataset::examples, [&](const datasets::Nlvr2Example& e) {
                return EvalItem{e.identifier, {joinImage(images, e.leftImage), joinImage(images, e.rightImage)}, e.sentence, "", {}, {e.label}};
            });
            break;
        case DatasetKind::Plain:
            readOne(datasets::readPlainJsonl(source.questions), &datasets::PlainDataset::questions, [&](const datasets::PlainQuestion& q) {
                return EvalItem{q.id, {joinImage(images, q.image)}, q.question, "", {}, q.answers};
            });
            break;
    }
    if (out.items.empty()) throw Error(anchor + ": no question could be read");
    out.hash = hex(hash);
    return out;
}

std::optional<double> scoreItem(const EvalDataset& dataset, const EvalItem& item, const std::string& prediction) {
    switch (dataset.source.kind) {
        case DatasetKind::VqaV2:
            if (item.vqaAnswers.empty()) return std::nullopt;
            return metrics::vqaQuestionAccuracy(prediction, item.vqaAnswers).accuracy;
        case DatasetKind::TextVqa:
            if (item.answers.size() != 10) return std::nullopt;
            return metrics::textVqaQuestionScore(prediction, item.answers);
        case DatasetKind::Gqa:
        case DatasetKind::Nlvr2:
            if (item.answers.empty()) return std::nullopt;
            return prediction == item.answers.front() ? 1.0 : 0.0;
        case DatasetKind::Pope:
            if (item.answers.empty()) return std::nullopt;
            return metrics::popeAnswerIsNo(prediction) == metrics::popeLabelIsNo(item.answers.front()) ? 1.0 : 0.0;
        case DatasetKind::Plain: {
            if (item.answers.empty()) return std::nullopt;
            const std::string mine = normalisedAnswer(prediction);
            for (const auto& answer : item.answers)
                if (normalisedAnswer(answer) == mine) return 1.0;
            return 0.0;
        }
    }
    return std::nullopt;
}

// ---------------------------------------------------------------------------------- shards

Shard parseShard(const std::string& text) {
    Shard shard;
    const auto slash = text.find('/');
    try {
        if (slash == std::string::npos) throw std::invalid_argument("no slash");
        std::size_t used = 0;
        shard.index = std::stoi(text.substr(0, slash), &used);
        if (used != slash) throw std::invalid_argument("index");
        const std::string count = text.substr(slash + 1);
        shard.count = std::stoi(count, &used);
        if (used != count.size()) throw std::invalid_argument("count");
    } catch (const std::exception&) {
        throw Error("shard '" + text + "': expected i/n, e.g. 0/4");
    }
    if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count)
        throw Error("shard '" + text + "': needs 0 <= i < n");
    return shard;
}

bool inShard(const std::string& id, const Shard& shard) {
    return fnv1a(kFnvOffset, id.data(), id.size()) % static_cast<uint64_t>(shard.count) == static_cast<uint64_t>(shard.index);
}

Json EvalIdentity::toJson() const {
    return Json{{"tokenscope_eval", 1},
                {"dataset", dataset},
                {"dataset_hash", datasetHash},
                {"questions", questions},
                {"annotations", annotations},
                {"images", images},
                {"model", model},
                {"model_hash", modelHash},
                {"method", method},
                {"model_settings", modelSettings},
                {"shard", std::to_string(shard.index) + "/" + std::to_string(shard.count)}};
}

EvalIdentity EvalIdentity::fromJson(const Json& header, const std::string& where) {
    if (!header.is_object() || !header.contains("tokenscope_eval"))
        throw Error(where + ": line 1 is not a TokenScope evaluation header");
    EvalIdentity id;
    try {
        id.dataset = header.at("dataset").get<std::string>();
        id.datasetHash = header.at("dataset_hash").get<std::string>();
        id.questions = header.value("questions", "");
        id.annotations = header.value("annotations", "");
        id.images = header.value("images", "");
        id.model = header.at("model").get<std::string>();
        id.modelHash = header.at("model_hash").get<std::string>();
        id.method = header.at("method");
        id.modelSettings = header.value("model_settings", Json::object());
        id.shard = parseShard(header.at("shard").get<std::string>());
    } catch (const Json::exception& e) {
        throw Error(where + ": line 1: evaluation header: " + e.what());
    }
    return id;
}

std::string EvalIdentity::mismatch(const EvalIdentity& other, bool sameShard) const {
    if (dataset != other.dataset) return "dataset (" + dataset + " vs " + other.dataset + ")";
    if (datasetHash != other.datasetHash) return "dataset files (their contents differ)";
    if (modelHash != other.modelHash) return "model (" + model + " vs " + other.model + ")";
    if (method != other.method) return "method settings (" + method.dump() + " vs " + other.method.dump() + ")";
    if (modelSettings != other.modelSettings) return "model settings (" + modelSettings.dump() + " vs " + other.modelSettings.dump() + ")";
    if (shard.count != other.shard.count) return "shard count (" + std::to_string(shard.count) + " vs " + std::to_string(other.shard.count) + ")";
    if (sameShard && shard.index != other.shard.index)
        return "shard (" + std::to_string(shard.index) + " vs " + std::to_string(other.shard.index) + ")";
    return "";
}

std::string modelHash(const Engine& engine) {
    const ModelSummary& summary = engine.summary();
    std::string key = summary.config.architecture + "|" + std::to_string(summary.parameterCount) + "|" + summary.source;
    uint64_t hash = fnv1a(kFnvOffset, key.data(), key.size());
    std::error_code ec;
    if (!summary.randomWeights && fs::is_directory(summary.source, ec)) {
        hash = kFnvOffset;  // a folder is its files, wherever it lies
        hash = fnv1a(hash, summary.config.architecture.data(), summary.config.architecture.size());
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(summary.source, ec))
            if (entry.is_regular_file(ec)) files.push_back(entry.path());
        std::sort(files.begin(), files.end());
        for (const auto& file : files) {
            const std::string name = file.filename().string() + "|" + std::to_string(fs::file_size(file, ec));
            hash = fnv1a(hash, name.data(), name.size());
            hash = hashFile(hash, file.string(), 1 << 16);
        }
    }
    return hex(hash);
}

EvalIdentity identityOf(const Engine& engine, const EvalDataset& dataset, const MethodSettings& method, const Shard& shard) {
    EvalIdentity id;
    id.dataset = datasetKindName(dataset.source.kind);
    id.datasetHash = dataset.hash;
    id.questions = dataset.source.questions;
    id.annotations = dataset.source.annotations;
    id.images = dataset.source.images;
    id.model = engine.summary().source;
    id.modelHash = modelHash(engine);
    id.method = methodSettingsToJson(method);
    id.modelSettings = Json::object();
    for (const auto& option : engine.options()) id.modelSettings[option.key] = option.value;
    id.shard = shard;
    return id;
}

ShardFile::ShardFile(const std::string& path, const EvalIdentity& identity) : m_path(path) {
    std::error_code ec;
    if (fs::exists(path, ec) && fs::file_size(path, ec) > 0) {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw Error(path + ": cannot be read to resume it");
        std::stringstream buffer;
        buffer << in.rdbuf();
        std::string text = buffer.str();
        in.close();
        // A line without its newline was being written when the run stopped: drop it.
        const auto lastNewline = text.rfind('\n');
        const std::size_t keep = lastNewline == std::string::npos ? 0 : lastNewline + 1;
        if (keep < text.size()) {
            m_truncatedTail = true;
            text.resize(keep);
            fs::resize_file(path, keep, ec);
            if (ec) throw Error(path + ": cannot cut off its unfinished last line: " + ec.message());
        }
        std::istringstream lines(text);
        std::string line;
        std::size_t number = 0;
        while (std::getline(lines, line)) {
            ++number;
            if (line.empty()) continue;
            Json record;
            try {
                record = Json::parse(line);
            } catch (const Json::exception& e) {
                throw Error(path + ": line " + std::to_string(number) + " is not JSON (" + e.what() + "); not resuming it");
            }
            if (number == 1) {
                const auto written = EvalIdentity::fromJson(record, path);
                const std::string differs = written.mismatch(identity, true);
                if (!differs.empty())
                    throw Error(path + ": written by another evaluation (its " + differs +
                                " differ); give another --out or remove the file");
                m_resumed = true;
                continue;
            }
            if (record.contains("question_id") && !record.contains("error"))
                m_done.insert(record.at("question_id").get<std::string>());
        }
    }
    const bool fresh = !m_resumed;
    m_file = std::fopen(path.c_str(), fresh ? "wb" : "ab");
    if (!m_file) throw Error(path + ": cannot be written");
    if (fresh) {
        const std::string header = identity.toJson().dump() + "\n";
        if (std::fwrite(header.data(), 1, header.size(), m_file) != header.size() || std::fflush(m_file) != 0)
            throw Error(path + ": cannot be written");
    }
}

ShardFile::~ShardFile() {
    if (m_file) std::fclose(m_file);
}

void ShardFile::write(const Json& record) {
    const std::string line = record.dump() + "\n";
    if (std::fwrite(line.data(), 1, line.size(), m_file) != line.size() || std::fflush(m_file) != 0)
        throw Error(m_path + ": cannot be written (disk full?)");
    if (!record.contains("error")) m_done.insert(record.at("question_id").get<std::string>());
}

// ---------------------------------------------------------------------------------- running

namespace {

// Decodes the images of items [0, count) on worker threads, at most `window` ahead of the item
// the model asks for next; take(i) waits for item i (and counts the wait).
class Prefetcher {
public:
    struct Decoded {
        std::vector<ImageU8> images;
        std::string error;
    };

    Prefetcher(std::vector<const EvalItem*> items, const ImageDecoder& decode, int threads, std::size_t window)
        : m_items(std::move(items)), m_decode(decode), m_window(std::max<std::size_t>(window, 1)),
          m_slots(m_items.size()), m_ready(m_items.size(), false) {
        for (int t = 0; t < std::max(1, threads); ++t) m_threads.emplace_back([this] { work(); });
    }

    ~Prefetcher() {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_stop = true;
        }
        m_changed.notify_all();
        for (auto& thread : m_threads) thread.join();
    }

    Decoded take(std::size_t index, double& waitSeconds) {
        const auto start = std::chrono::steady_clock::now();
        std::unique_lock<std::mutex> lock(m_mutex);
        m_changed.wait(lock, [&] { return m_ready[index]; });
        waitSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        Decoded out = std::move(m_slots[index]);
        m_consumed = std::max(m_consumed, index + 1);
        lock.unlock();
        m_changed.notify_all();
        return out;
    }

private:
    void work() {
        for (;;) {
            std::size_t index = 0;
            {
                std::unique_lock<std::mutex> lock(m_mutex);
                m_changed.wait(lock, [&] { return m_stop || (m_next < m_items.size() && m_next < m_consumed + m_window); });
                if (m_stop) return;
                index = m_next++;
            }
            Decoded decoded;
            try {
                for (const auto& path : m_items[index]->images) decoded.images.push_back(m_decode(path));
            } catch (const std::exception& e) {
                decoded.images.clear();
                decoded.error = e.what();
            }
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                m_slots[index] = std::move(decoded);
                m_ready[index] = true;
            }
            m_changed.notify_all();
        }
    }

    std::vector<const EvalItem*> m_items;
    const ImageDecoder& m_decode;
    std::size_t m_window;
    std::vector<Decoded> m_slots;
    std::vector<bool> m_ready;
    std::size_t m_next = 0, m_consumed = 0;
    bool m_stop = false;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::vector<std::thread> m_threads;
};

double secondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A traced run's tokens after each layer (stage-tagged layers, in order) and activation peak.
void addPerLayer(Json& record, const RunResult& result) {
    Json image = Json::array(), text = Json::array();
    for (const auto& layer : result.trace.layers) {
        image.push_back(layer.image.tokens);
        text.push_back(layer.text.tokens);
    }
    record["image_tokens_per_layer"] = image;
    record["text_tokens_per_layer"] = text;
    if (result.memory.hasAllocatorFigures())
        record["activation_peak_mib"] = double(result.memory.activationsPeakBytes) / double(1 << 20);
}

// The k best labels of one row of a batch's logits (sigmoid scores, as the VQA head is trained).
Json topLabels(const BatchPrediction& prediction, std::size_t row, const std::vector<std::string>& labels, int k) {
    const auto count = static_cast<std::size_t>(prediction.labelCount);
    const float* logits = prediction.logits.data() + row * count;
    std::vector<std::size_t> order(count);
    for (std::size_t i = 0; i < count; ++i) order[i] = i;
    const auto top = std::min<std::size_t>(count, static_cast<std::size_t>(std::max(1, k)));
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                      [&](std::size_t a, std::size_t b) { return logits[a] > logits[b]; });
    Json out = Json::array();
    for (std::size_t i = 0; i < top; ++i) {
        const std::size_t id = order[i];
        out.push_back({{"answer", id < labels.size() ? labels[id] : std::to_string(id)},
                       {"score", 1.0 / (1.0 + std::exp(-double(logits[id])))}});
    }
    return out;
}

Json baseRecord(const EvalItem& item, std::size_t index) {
    Json record{{"question_id", item.id}, {"index", index}, {"question", item.question}, {"images", item.images}};
    if (!item.group.empty()) record["group"] = item.group;
    return record;
}

}  // namespace

DatasetEvalStats runDatasetEval(Engine& engine, const EvalDataset& dataset, ShardFile& out, const DatasetEvalOptions& options) {
    if (!options.decode) throw Error("evaluation: no image decoder");
    const FamilyCapabilities& can = engine.capabilities();
    const bool pairs = dataset.source.kind == DatasetKind::Nlvr2;
    if (pairs && !can.imagePairs) throw Error("NLVR2 needs a model with an NLVR2 head (two images); " + engine.summary().source + " has none");
    if (!pairs && !can.answersFromLabels && !can.generates)
        throw Error(engine.summary().source + " answers neither from labels nor by generating; it cannot answer questions");
    const auto started = std::chrono::steady_clock::now();
    DatasetEvalStats stats;
    std::vector<const EvalItem*> todo;
    std::vector<std::size_t> positions;
    for (std::size_t i = 0; i < dataset.items.size(); ++i) {
        const EvalItem& item = dataset.items[i];
        if (!inShard(item.id, options.shard)) continue;
        if (options.limit && stats.shardItems >= options.limit) break;
        ++stats.shardItems;
        if (out.isDone(item.id)) {
            ++stats.skipped;
            continue;
        }
        todo.push_back(&item);
        positions.push_back(i);
    }
    // Label models of one image answer in batches; pairs and generation one at a time.
    const bool batched = !pairs && can.answersFromLabels && can.family == FamilyKind::Vilt;
    const std::size_t batch = batched ? static_cast<std::size_t>(std::max(1, options.batch)) : 1;
    Prefetcher prefetch(todo, options.decode, options.decodeThreads, std::max<std::size_t>(2 * batch, 4));
    std::size_t written = 0;
    const auto emit = [&](const Json& record) {
        out.write(record);
        ++written;
        if (record.contains("error")) ++stats.errors;
        else ++stats.answered;
    };
    for (std::size_t begin = 0; begin < todo.size(); begin += batch) {
        if (options.cancel && options.cancel->load()) throw Cancelled();
        if (options.stopAfter && written >= options.stopAfter) break;
        const std::size_t end = std::min(todo.size(), begin + batch);
        std::vector<std::size_t> ready;  // indices into todo with decoded images
        std::vector<Prefetcher::Decoded> decoded;
        for (std::size_t k = begin; k < end; ++k) {
            auto d = prefetch.take(k, stats.waitSeconds);
            if (!d.error.empty()) {
                Json record = baseRecord(*todo[k], positions[k]);
                record["error"] = d.error;
                emit(record);
                continue;
            }
            ready.push_back(k);
            decoded.push_back(std::move(d));
        }
        if (ready.empty()) continue;
        const auto modelStart = std::chrono::steady_clock::now();
        const auto finish = [&](std::size_t k, const std::string& prediction, Json extra) {
            Json record = baseRecord(*todo[k], positions[k]);
            record["text"] = prediction;
            const auto score = scoreItem(dataset, *todo[k], prediction);
            record["score"] = score ? Json(*score) : Json(nullptr);
            for (auto& [key, value] : extra.items()) record[key] = value;
            emit(record);
        };
        try {
            if (batched) {
                std::vector<ImageU8> images;
                std::vector<std::string> questions;
                for (std::size_t j = 0; j < ready.size(); ++j) {
                    images.push_back(std::move(decoded[j].images.front()));
                    questions.push_back(todo[ready[j]]->question);
                }
                const auto prediction = engine.predictBatch(images, questions, options.method, options.cancel);
                const double perExample = prediction.forwardMs / double(ready.size());
                stats.modelSeconds += secondsSince(modelStart);
                const double preprocessPerExample = prediction.preprocessMs / double(ready.size());
                for (std::size_t j = 0; j < ready.size(); ++j) {
                    Json extra{{"label_id", prediction.ids[j]}, {"confidence", prediction.scores[j]},
                               {"top_k", topLabels(prediction, j, engine.summary().config.vilt.id2label, options.topK)},
                               {"latency_ms", perExample}, {"preprocess_ms", preprocessPerExample}, {"batch", ready.size()}};
                    if (options.perLayer) {
                        RunRequest traced{images[j], questions[j], options.method, 1, true};
                        addPerLayer(extra, engine.run(traced, options.cancel));
                    }
                    finish(ready[j], prediction.labels[j], std::move(extra));
                }
                continue;
            }
            const std::size_t k = ready.front();
            const EvalItem& item = *todo[k];
            auto& images = decoded.front().images;
            if (pairs) {
                const auto answer = engine.answerPair(images[0], images[1], item.question, 2);
                stats.modelSeconds += secondsSince(modelStart);
                finish(k, answer.answers.front().label,
                       Json{{"confidence", answer.answers.front().score}, {"latency_ms", answer.forwardMs},
                            {"preprocess_ms", answer.preprocessMs}});
            } else if (can.answersFromLabels) {
                RunRequest request{std::move(images[0]), item.question, options.method, options.topK, options.perLayer};
                const auto result = engine.run(request, options.cancel);
                stats.modelSeconds += secondsSince(modelStart);
                Json top = Json::array();
                for (const auto& a : result.answers) top.push_back({{"answer", a.label}, {"score", a.score}});
                Json extra{{"top_k", top}, {"latency_ms", result.forwardMs}, {"preprocess_ms", result.preprocessMs},
                           {"image_tokens", result.imageTokens}};
                if (options.perLayer) addPerLayer(extra, result);
                finish(k, result.answers.front().label, std::move(extra));
            } else {
                GenerateRequest request;
                request.image = std::move(images[0]);
                request.prompt = item.question + "\n" + kShortAnswerPrompt;
                request.method = options.method;
                request.maxNewTokens = options.maxNewTokens;
                request.attentionMaps = false;
                const auto result = engine.generate(request, {}, options.cancel);
                stats.modelSeconds += secondsSince(modelStart);
                finish(k, result.text, Json{{"latency_ms", result.timings.totalMs}, {"image_tokens", result.visualTokens},
                                            {"answered_by", "generation"}});
            }
        } catch (const Cancelled&) {
            throw;
        } catch (const std::exception& e) {
            // One bad item (or batch) is recorded and the run goes on.
            stats.modelSeconds += secondsSince(modelStart);
            for (const std::size_t k : ready) {
                Json record = baseRecord(*todo[k], positions[k]);
                record["error"] = e.what();
                emit(record);
            }
        }
        if (options.progress) {
            const double elapsed = secondsSince(started);
            const std::size_t done = begin + batch < todo.size() ? begin + batch : todo.size();
            const double eta = done ? elapsed / double(done) * double(todo.size() - done) : 0;
            options.progress(done, todo.size(), eta);
        }
    }
    stats.wallSeconds = secondsSince(started);
    return stats;
}

// ---------------------------------------------------------------------------------- merging

MergedEval mergeShards(const std::vector<std::string>& paths) {
    if (paths.empty()) throw Error("eval-merge: no shard files given");
    MergedEval merged;
    std::map<std::string, std::pair<std::size_t, Json>> byId;  // id -> (order key, record)
    std::set<int> seen;
    std::optional<EvalIdentity> first;
    std::string firstPath;
    for (const auto& path : paths) {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw Error(path + ": cannot be read");
        std::stringstream buffer;
        buffer << in.rdbuf();
        const std::string text = buffer.str();
        std::istringstream lines(text);
        std::string line;
        std::size_t number = 0;
        std::optional<EvalIdentity> identity;
        while (std::getline(lines, line)) {
            ++number;
            if (line.empty()) continue;
            const bool last = lines.peek() == std::char_traits<char>::eof();
            Json record;
            try {
                record = Json::parse(line);
            } catch (const Json::exception& e) {
                if (number == 1) throw Error(path + ": line 1 is not an evaluation header");
                merged.warnings.push_back({path, "line " + std::to_string(number),
                                           last ? "unfinished last line (the run was stopped while writing it); left out"
                                                : std::string("not JSON (") + e.what() + "); left out",
                                           true});
                continue;
            }
            if (number == 1) {
                identity = EvalIdentity::fromJson(record, path);
                if (!first) {
                    first = identity;
                    firstPath = path;
                } else {
                    const std::string differs = first->mismatch(*identity, false);
                    if (!differs.empty())
                        throw Error(path + ": from another evaluation than " + firstPath + " (their " + differs + " differ)");
                }
                if (!seen.insert(identity->shard.index).second)
                    merged.warnings.push_back({path, "header", "shard " + std::to_string(identity->shard.index) +
                                                                   " was given twice; the later records win", false});
                continue;
            }
            if (!record.contains("question_id")) {
                merged.warnings.push_back({path, "line " + std::to_string(number), "no question_id; left out", true});
                continue;
            }
            const std::string id = record.at("question_id").get<std::string>();
            const std::size_t order = record.value("index", std::size_t(0));
            const auto found = byId.find(id);
            // A resumed run may have written an error record and later the answer: the answer wins.
            if (found != byId.end() && !found->second.second.contains("error") && record.contains("error")) continue;
            byId[id] = {order, std::move(record)};
        }
        if (!identity) throw Error(path + ": empty (no evaluation header)");
    }
    merged.identity = *first;
    merged.shardCount = first->shard.count;
    merged.identity.shard = Shard{0, 1};
    merged.shardsSeen.assign(seen.begin(), seen.end());
    for (int s = 0; s < merged.shardCount; ++s)
        if (!seen.count(s))
            merged.warnings.push_back({firstPath, "shards", "shard " + std::to_string(s) + "/" + std::to_string(merged.shardCount) +
                                                                " is missing: its questions count as unanswered", false});
    std::vector<std::pair<std::size_t, Json>> ordered;
    for (auto& [id, entry] : byId) ordered.push_back(std::move(entry));
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& entry : ordered) merged.records.push_back(std::move(entry.second));
    return merged;
}

}  // namespace tokenscope::evaluation
