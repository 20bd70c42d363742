#include "text/llava_prompt.h"

#include "text/sentencepiece_tokenizer.h"

#include "common/error.h"
#include "io/json_file.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace tokenscope {

namespace {

constexpr std::string_view kImageToken = "<image>";
constexpr const char* kVicunaSystem =
    "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the human's questions.";

std::string lowercase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

bool contains(const std::string& text, const char* word) { return text.find(word) != std::string::npos; }

}  // namespace

LlavaPromptTemplate llavaTemplateFromName(const std::string& name) {
    const std::string lower = lowercase(name);
    if (lower == "vicuna") return LlavaPromptTemplate::Vicuna;
    if (lower == "mistral") return LlavaPromptTemplate::Mistral;
    if (lower == "raw") return LlavaPromptTemplate::Raw;
    throw Error("prompt template '" + name + "': expected vicuna, mistral or raw");
}

const char* llavaTemplateName(LlavaPromptTemplate t) {
    switch (t) {
    case LlavaPromptTemplate::Vicuna: return "vicuna";
    case LlavaPromptTemplate::Mistral: return "mistral";
    case LlavaPromptTemplate::Raw: return "raw";
    }
    return "raw";
}

LlavaPromptTemplate llavaTemplateForFolder(const std::string& folder) {
    namespace fs = std::filesystem;
    const fs::path config = fs::path(folder) / "config.json";
    if (fs::exists(config)) {
        const nlohmann::json json = readJsonObjectFile(config.string(), "config.json");
        if (json.contains("text_config") && json["text_config"].is_object()) {
            const auto& text = json["text_config"];
            std::string modelType;
            if (text.contains("model_type") && text["model_type"].is_string()) modelType = lowercase(text["model_type"].get<std::string>());
            bool isMistralArchitecture = false;
            if (text.contains("architectures") && text["architectures"].is_array()) {
                for (const auto& a : text["architectures"]) {
                    if (a.is_string() && lowercase(a.get<std::string>()).rfind("mistral", 0) == 0) isMistralArchitecture = true;
                }
            }
            if (modelType == "mistral" || isMistralArchitecture) return LlavaPromptTemplate::Mistral;
            if (modelType == "llama") return LlavaPromptTemplate::Vicuna;
        }
    }
    // No usable config: the folder's own name ("llava-v1.6-mistral-7b-hf").
    std::string name = fs::path(folder).filename().string();
    if (name.empty()) name = fs::path(folder).parent_path().filename().string();
    name = lowercase(name);
    if (contains(name, "mistral")) return LlavaPromptTemplate::Mistral;
    if (contains(name, "vicuna") || contains(name, "llava")) return LlavaPromptTemplate::Vicuna;
    return LlavaPromptTemplate::Raw;
}

std::string formatLlavaPrompt(LlavaPromptTemplate t, const std::string& question) {
    switch (t) {
    case LlavaPromptTemplate::Vicuna: return std::string(kVicunaSystem) + " USER: <image>\n" + question + " ASSISTANT:";
    case LlavaPromptTemplate::Mistral: return "[INST] <image>\n" + question + " [/INST]";
    case LlavaPromptTemplate::Raw: break;
    }
    if (question.find(kImageToken) != std::string::npos) return question;
    return "<image>\n" + question;
}

std::vector<std::int64_t> encodeLlavaPrompt(const SentencePieceTokenizer& tok, const std::string& prompt,
                                            std::int64_t imageTokenId, std::int64_t imageTokens) {
    const std::size_t at = prompt.find(kImageToken);
    if (at == std::string::npos) throw Error("prompt: no \"<image>\" in the prompt");
    if (prompt.find(kImageToken, at + kImageToken.size()) != std::string::npos) {
        throw Error("prompt: more than one \"<image>\" (one image per prompt)");
    }
    if (imageTokenId < 0) throw Error("prompt: image token id " + std::to_string(imageTokenId) + " is negative");

    std::string before = prompt.substr(0, at);
    std::string after = prompt.substr(at + kImageToken.size());
    // The tokenizer's own "<image>" token may strip the whitespace next to it (none of the llava-hf
    // folders do).
    const std::int64_t ownId = tok.pieceToId(std::string(kImageToken));
    for (const auto& added : tok.addedTokens()) {
        if (added.id != ownId || added.content != kImageToken) continue;
        const auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
        if (added.lstrip) {
            while (!before.empty() && isSpace(before.back())) before.pop_back();
        }
        if (added.rstrip) {
            std::size_t n = 0;
            while (n < after.size() && isSpace(after[n])) ++n;
            after.erase(0, n);
        }
    }

    std::vector<std::int64_t> ids;
    if (tok.bosId() >= 0) ids.push_back(tok.bosId());
    if (!before.empty()) {
        const auto part = tok.encode(before, false, true);
        ids.insert(ids.end(), part.begin(), part.end());
    }
    ids.insert(ids.end(), static_cast<std::size_t>(imageTokens < 0 ? 1 : imageTokens), imageTokenId);
    if (!after.empty()) {
        const auto part = tok.encode(after, false, false);
        ids.insert(ids.end(), part.begin(), part.end());
    }
    return ids;
}

}  // namespace tokenscope
