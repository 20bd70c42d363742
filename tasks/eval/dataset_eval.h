#pragma once

// A model evaluated on a dataset in its official layout (tasks/datasets), sharded and resumable,
// with files as the interface:
//
//   * loadEvalDataset reads VQAv2 / TextVQA / GQA / POPE / NLVR2 / plain JSON Lines into one list
//     of items (id, image files, question, what scores it) and hashes the files it read.
//   * A shard is the items whose id hashes to i modulo n (FNV-1a 64 of the id): the same items
//     whatever order the file lists them in, and every item in exactly one of the n shards.
//   * ShardFile is one shard's JSON Lines output: a header line (dataset and its hash, model and
//     its hash, method, model settings, shard) and one record per item, each written whole and
//     flushed, so a killed run loses at most the item in flight. Opening an existing file resumes
//     it: a header that differs is refused, a truncated last line is cut off, the items already
//     written are skipped.
//   * runDatasetEval answers the shard's remaining items: images are decoded on worker threads
//     ahead of the model (a bounded window), label models answer in batches, generating models
//     (LLaVA) answer greedily with the short-answer prompt.
//   * mergeShards combines shard files of one evaluation (refusing files of other settings,
//     models or datasets) into one prediction per item; the official scorers (tasks/metrics) then
//     score them (tokenscope-cli eval-merge).
//
// Errors: tokenscope::Error naming the file and the problem; a bad item (missing image, unreadable
// line) becomes a record with "error" and the run goes on.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "tasks/datasets/dataset_file.h"
#include "tasks/datasets/vqa_datasets.h"

namespace tokenscope::evaluation {

enum class DatasetKind { VqaV2, TextVqa, Gqa, Pope, Nlvr2, Plain };
DatasetKind parseDatasetKind(const std::string& name);  // vqav2 | textvqa | gqa | pope | nlvr2 | plain; throws Error
const char* datasetKindName(DatasetKind kind);

struct DatasetSource {
    DatasetKind kind = DatasetKind::Plain;
    std::string questions;    // VQAv2's questions JSON; the one file of the other layouts
    std::string annotations;  // VQAv2's annotations JSON (optional: without it nothing is scored)
    std::string images;       // the image folder ("" = the folder of the questions file)
};

struct EvalItem {
    std::string id;
    std::vector<std::string> images;  // full paths: one, or NLVR2's pair
    std::string question;
    std::string group;                // VQAv2 answer type, GQA structural type, POPE category ("" otherwise)
    std::vector<datasets::VqaAnswer> vqaAnswers;  // VQAv2 (annotations)
    std::vector<std::string> answers;             // TextVQA's ten, GQA's one, POPE / NLVR2 label, plain's
};

struct EvalDataset {
    DatasetSource source;
    std::vector<EvalItem> items;  // in file order
    std::vector<datasets::ItemError> errors;
    std::string hash;             // hex FNV-1a 64 of the files read, in order
};
EvalDataset loadEvalDataset(const DatasetSource& source);

// The item's score in [0, 1] for a prediction, by the dataset's rule for one question (VQAv2 and
// TextVQA: the leave-one-out VQA accuracy; GQA: exact match; POPE: yes/no as eval_pope.py reads
// it; NLVR2: the label; plain: any answer after VQA's answer processing). Empty when the item has
// nothing to score against.
std::optional<double> scoreItem(const EvalDataset& dataset, const EvalItem& item, const std::string& prediction);

struct Shard {
    int index = 0;
    int count = 1;
};
Shard parseShard(const std::string& text);  // "i/n", 0 <= i < n; throws Error
bool inShard(const std::string& id, const Shard& shard);
std::string fnv1aHex(const std::string& bytes);

// What a shard file's header holds and what must agree for a resume or a merge.
struct EvalIdentity {
    std::string dataset;  // kind name
    std::string datasetHash;
    std::string questions, annotations, images;
    std::string model;  // the folder or architecture
    std::string modelHash;
    nlohmann::json method;         // methods/method_json
    nlohmann::json modelSettings;  // Engine::options values by key
    Shard shard;
    nlohmann::json toJson() const;
    static EvalIdentity fromJson(const nlohmann::json& header, const std::string& where);
    // "" when `other` may continue or join this evaluation; else what differs ("method", ...).
    std::string mismatch(const EvalIdentity& other, bool sameShard) const;
};
// Hash of a model: its architecture, parameter count and, for a folder, every file's name, size and
// first 64 KiB.
std::string modelHash(const Engine& engine);
EvalIdentity identityOf(const Engine& engine, const EvalDataset& dataset, const MethodSettings& method, const Shard& shard);

class ShardFile {
public:
    // Creates the file, or resumes it (see the top). Throws Error naming the file.
    ShardFile(const std::string& path, const EvalIdentity& identity);
    ~ShardFile();
    ShardFile(const ShardFile&) = delete;
    ShardFile& operator=(const ShardFile&) = delete;

    bool isDone(const std::string& id) const { return m_done.count(id) != 0; }
    std::size_t doneCount() const { return m_done.size(); }
    bool wasResumed() const { return m_resumed; }
    bool truncatedTail() const { return m_truncatedTail; }
    void write(const nlohmann::json& record);  // one line, flushed; records without "error" count as done

private:
    std::string m_path;
    std::FILE* m_file = nullptr;
    std::set<std::string> m_done;
    bool m_resumed = false;
    bool m_truncatedTail = false;
};

using ImageDecoder = std::function<ImageU8(const std::string& path)>;

struct DatasetEvalOptions {
    MethodSettings method;
    Shard shard;
    int batch = 8;        // label models; generating models answer one at a time
    int topK = 5;
    std::size_t limit = 0;  // at most this many of the shard's items (0: all)
    int decodeThreads = 2;
    int maxNewTokens = 16;  // generating models
    ImageDecoder decode;    // throws Error naming the file
    std::function<void(std::size_t done, std::size_t total, double etaSeconds)> progress;
    const std::atomic<bool>* cancel = nullptr;
    // Stop after this many records were written (0: never). For tests of resume.
    std::size_t stopAfter = 0;
    // Also record each question's tokens per layer (image and text, after each layer's reduction)
    // and activation peak: one more traced forward per question for label models, not counted in
    // its latency.
    bool perLayer = false;
};

struct DatasetEvalStats {
    std::size_t shardItems = 0;  // items of the shard (after limit)
    std::size_t skipped = 0;     // already in the file
    std::size_t answered = 0;
    std::size_t errors = 0;
    double modelSeconds = 0;     // forwards (and generation)
    double waitSeconds = 0;      // the model thread waiting for decoded images
    double wallSeconds = 0;
    double examplesPerSecond() const { return wallSeconds > 0 ? double(answered) / wallSeconds : 0; }
    double waitFraction() const { return wallSeconds > 0 ? waitSeconds / wallSeconds : 0; }
};

// LLaVA's short-answer instruction (llava/eval: "Answer the question using a single word or phrase.").
extern const char* const kShortAnswerPrompt;

DatasetEvalStats runDatasetEval(Engine& engine, const EvalDataset& dataset, ShardFile& out,
                                const DatasetEvalOptions& options);

struct MergedEval {
    EvalIdentity identity;                      // shard set to {0, 1}
    std::vector<nlohmann::json> records;        // one per item id, in dataset file order where known
    std::vector<datasets::ItemError> warnings;  // truncated lines, duplicates, missing shards
    std::vector<int> shardsSeen;
    int shardCount = 1;
};
// Throws Error when the files belong to different evaluations (naming the file and what differs).
MergedEval mergeShards(const std::vector<std::string>& paths);

}  // namespace tokenscope::evaluation
